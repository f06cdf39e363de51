/** Public types of the auth surface, checked by tsc (npm test type-checks test/). */
import Fastify from 'fastify'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { authConfigFromEnv, createAuthFromConfig, sseGatewayPlugin, type AuthRuntime, type SseGatewayOptions } from '../plugins/gateway.js'
import type { SessionGuard } from '../src/auth/guard.js'
import type { AuthConfig } from '../src/auth/config.js'

describe('auth types', () => {
  it('types the auth option, the runtime and the guard decorator', async () => {
    expectTypeOf<SseGatewayOptions['auth']>().toEqualTypeOf<AuthRuntime | undefined>()
    expectTypeOf(authConfigFromEnv).returns.toEqualTypeOf<AuthConfig>()
    expectTypeOf(createAuthFromConfig).returns.toEqualTypeOf<AuthRuntime>()
    expectTypeOf<AuthConfig['strategy']>().toEqualTypeOf<'django' | 'introspect' | 'signed-cookie' | 'none'>()
    const app = Fastify()
    await app.register(sseGatewayPlugin, { auth: createAuthFromConfig(authConfigFromEnv({})) })
    expectTypeOf(app.sseSessionGuard).toEqualTypeOf<SessionGuard>()
    await app.ready()
    expect(app.sseSessionGuard.stats.sweeps).toBe(0)
    await app.close()
  })
})
