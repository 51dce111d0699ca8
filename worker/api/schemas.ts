/**
 * Request and response schemas: the single source of validation and of the OpenAPI
 * document served at /openapi.json.
 */
import { z } from '@hono/zod-openapi';
import { MAX_TOKEN_TTL } from '../../durable-objects/tenant/tokens.js';
import { TENANT_ID_RE, USER_ID_RE } from '../../sip/policy/identity.js';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'tenant_not_found' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

export const TenantIdParam = z.string().regex(TENANT_ID_RE, 'a lower-case slug of letters, digits and dashes (1-63)').openapi({ example: 'acme' });
export const UserIdParam = z.string().regex(USER_ID_RE, 'letters, digits and _ . + - (1-64)').openapi({ example: 'alice' });

const Domain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, 'a DNS name')
  .openapi({ example: 'sip.acme.example' });

export const Limits = z
  .object({
    maxUsers: z.number().int().min(1).max(1_000_000),
    maxDevicesPerUser: z.number().int().min(1).max(100),
    maxSocketsPerUser: z.number().int().min(1).max(100),
    ringTimeoutSeconds: z.number().int().min(5).max(600),
    videoAllowed: z.boolean(),
    messagesPerSecond: z.number().min(1).max(1000),
    messageBurst: z.number().int().min(1).max(10_000),
    maxCallsPerUser: z.number().int().min(1).max(256).openapi({ description: 'Live calls and subscriptions per user (default 32); past it 503.' }),
    maxPendingRequestsPerUser: z.number().int().min(1).max(256).openapi({ description: 'Incoming requests being delivered to a user at once (default 32); past it 486.' }),
    maxUnauthenticatedSocketsPerUser: z.number().int().min(1).max(100).openapi({ description: 'Sockets not yet authenticated, per user (default 8); the oldest is closed for a newcomer.' }),
    maxUnauthenticatedSocketsPerAddress: z.number().int().min(1).max(100).openapi({ description: 'Sockets not yet authenticated, per user and client address (default 3); past it 429.' }),
    authFailuresPerAddress: z.number().int().min(1).max(1000).openapi({ description: 'Failed digest answers from one address before it is locked out (default 5).' }),
    authFailuresPerUser: z.number().int().min(1).max(10_000).openapi({ description: 'Failed digest answers for one user in 10 minutes before addresses it never signed in from are locked out (default 50).' }),
    flowGraceSeconds: z.number().int().min(0).max(300).openapi({ description: "How long a call whose socket closed is held for the same device (+sip.instance) to come back on a new socket before BYE goes to the other party (default 30; 0 ends it at once)." }),
    pushWaitSeconds: z.number().int().min(0).max(60).openapi({ description: 'How long an INVITE or MESSAGE for a user whose devices all sleep waits for one to wake on its push and register (RFC 8599; default 10; 0 answers 480 at once).' }),
  })
  .openapi('Limits');

export const TenantCreate = z
  .object({
    id: TenantIdParam,
    domain: Domain.optional(),
    name: z.string().max(200).nullable().optional(),
    limits: Limits.partial().strict().optional(),
  })
  .strict()
  .openapi('TenantCreate');

const KeyId = z.string().regex(/^[A-Z0-9]{10}$/, '10 letters or digits, as Apple issues them');
export const PushInput = z
  .object({
    fcm: z
      .object({ serviceAccount: z.string().min(2).max(8192).openapi({ description: "The Firebase service account's JSON key file, as a string." }) })
      .strict()
      .nullable()
      .optional(),
    apns: z
      .object({
        teamId: KeyId,
        keyId: KeyId,
        privateKey: z.string().min(100).max(4096).openapi({ description: 'The .p8 signing key (PEM).' }),
        topic: z.string().min(1).max(255).openapi({ description: 'The app bundle id (with `.voip` for PushKit); a device may name its own in pn-param.' }),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict()
  .openapi('PushInput', { description: "The tenant's own FCM and APNs credentials, for its native apps (Web Push uses the deployment's VAPID key). A field left out keeps its value; null removes it." });

export const TenantPatch = z
  .object({
    domain: Domain.optional(),
    name: z.string().max(200).nullable().optional(),
    limits: Limits.partial().strict().optional(),
    push: PushInput.nullable().optional(),
  })
  .strict()
  .openapi('TenantPatch');

const PushView = z
  .object({
    fcm: z.object({ projectId: z.string(), clientEmail: z.string() }).nullable(),
    apns: z.object({ teamId: z.string(), keyId: z.string(), topic: z.string() }).nullable(),
  })
  .openapi('PushView', { description: 'Which push credentials the tenant has; the keys are never shown.' });

export const Tenant = z
  .object({
    id: z.string(),
    domain: z.string(),
    name: z.string().nullable(),
    limits: Limits,
    push: PushView,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Tenant');

export const TenantCreated = z.object({ tenant: Tenant, apiKey: z.string().openapi({ description: 'Shown only once; stored hashed.' }) }).openapi('TenantCreated');
export const ApiKey = z.object({ apiKey: z.string() }).openapi('ApiKey');

export const UserPut = z
  .object({
    password: z.string().min(8).max(256).optional(),
    displayName: z.string().max(200).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('UserPut');

export const User = z
  .object({
    id: z.string(),
    displayName: z.string().nullable(),
    enabled: z.boolean(),
    hasPassword: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('User');

export const CallRecord = z
  .object({
    id: z.string(),
    callId: z.string(),
    direction: z.enum(['in', 'out']),
    peer: z.string(),
    state: z.enum(['early', 'confirmed', 'held', 'ended', 'interrupted']).openapi({
      description: '`held`: its user\'s socket closed, and the call waits (the tenant\'s `flowGraceSeconds`) for the device to come back on a new one. `interrupted`: answered, and cut by a restart of the service before its end was recorded; `endedAt` is then null and `lastAliveAt` says when it was last known up.',
    }),
    createdAt: z.number(),
    answeredAt: z.number().nullable(),
    endedAt: z.number().nullable(),
    finalStatus: z.number().nullable(),
    endReason: z.string().nullable(),
    lastAliveAt: z.number().nullable().openapi({ description: 'The last moment the call was known to be up: its end, or its answer when nothing later was recorded.' }),
    media: z.object({ offer: z.unknown(), answer: z.unknown() }),
  })
  .openapi('CallRecord');

export const Registration = z
  .object({ contact: z.string(), userAgent: z.string().nullable(), since: z.number(), expiresAt: z.number(), instance: z.string().nullable() })
  .openapi('Registration');

export const UserDetail = User.extend({
  registrations: z.array(Registration),
  calls: z.array(CallRecord),
  sockets: z.number().int(),
}).openapi('UserDetail');

export const UserPage = z.object({ users: z.array(User), nextCursor: z.string().nullable() }).openapi('UserPage');

export const TokenRequest = z
  .object({ ttl: z.number().int().min(1).max(MAX_TOKEN_TTL).optional().openapi({ description: 'Seconds; default 3600, at most 86400.' }) })
  .strict()
  .openapi('TokenRequest');

export const Login = z
  .object({ user: UserIdParam, password: z.string().min(1).max(256), ttl: z.number().int().min(60).max(MAX_TOKEN_TTL).optional() })
  .strict()
  .openapi('Login');

export const TokenIssued = z
  .object({
    token: z.string(),
    wsUrl: z.string().openapi({ example: 'wss://switchboard.example/sip/acme/alice?token=...' }),
    sipUri: z.string().openapi({ example: 'sip:alice@sip.acme.example' }),
    expiresAt: z.number().openapi({ description: 'Unix seconds' }),
  })
  .openapi('TokenIssued');

export const IceServer = z
  .object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() })
  .openapi('IceServer');

export const IceServers = z
  .object({
    iceServers: z.array(IceServer),
    expiresAt: z.number().nullable(),
    flowGraceSeconds: z.number().int().openapi({ description: "The tenant's flowGraceSeconds: how long a call outlives its socket. A client whose socket stays down longer knows its call is over." }),
  })
  .openapi('IceServers');

export const errorResponses = {
  400: { description: 'Invalid request (per-field details)', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'Missing or invalid credentials', content: { 'application/json': { schema: ErrorBody } } },
  403: { description: 'Not allowed', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorBody } } },
  429: { description: 'Rate limited (see Retry-After)', content: { 'application/json': { schema: ErrorBody } } },
} as const;
