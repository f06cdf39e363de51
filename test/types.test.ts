/** The public types: plugin options, decorators and strategy signatures, checked by tsc (npm test type-checks test/). */
import Fastify from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { sseGatewayPlugin, type SseGatewayOptions } from '../plugins/gateway.js'
import type { Gateway } from '../src/gateway.js'
import type { Authenticate, Authorize, Principal } from '../src/auth/types.js'
import type { Bus } from '../src/bus/types.js'
import type { Registry } from 'prom-client'
import type { AuthMetrics, AuthTelemetry } from '../src/telemetry.js'
import type { SseHealthOptions } from '../plugins/health.js'
import type { SseMetricsOptions } from '../plugins/metrics.js'

describe('public types', () => {
  it('types the plugin options, the decorators and the auth seam', () => {
    expectTypeOf<SseGatewayOptions['authenticate']>().toEqualTypeOf<Authenticate | undefined>()
    expectTypeOf<SseGatewayOptions['authorize']>().toEqualTypeOf<Authorize | undefined>()
    expectTypeOf<SseGatewayOptions['bus']>().toEqualTypeOf<Bus | undefined>()
    expectTypeOf<SseGatewayOptions['heartbeatMs']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<ReturnType<Authenticate>>().toEqualTypeOf<Promise<Principal | null>>()
    const app = Fastify()
    app.register(sseGatewayPlugin, { heartbeatMs: 1000 })
    expectTypeOf(app.sseGateway).toEqualTypeOf<Gateway>()
    app.get('/x', async request => { expectTypeOf(request.ssePrincipal).toEqualTypeOf<Principal | null>() })
  })

  it('types the operations options, the metrics registry and the auth metrics seam', () => {
    expectTypeOf<SseGatewayOptions['health']>().toEqualTypeOf<SseHealthOptions | false | undefined>()
    expectTypeOf<SseGatewayOptions['metrics']>().toEqualTypeOf<SseMetricsOptions | false | undefined>()
    expectTypeOf<SseGatewayOptions['authMetrics']>().toEqualTypeOf<AuthTelemetry | undefined>()
    expectTypeOf<SseGatewayOptions['maxPublishInFlight']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<SseGatewayOptions['closeGraceMs']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<AuthTelemetry>().toMatchTypeOf<AuthMetrics>()
    expectTypeOf<AuthMetrics['dashboardCall']>().parameters.toEqualTypeOf<[number, 'ok' | 'denied' | 'unavailable']>()
    const app = Fastify()
    app.register(sseGatewayPlugin, { metrics: { prefix: 'gw_' }, health: false })
    expectTypeOf(app.sseMetrics).toEqualTypeOf<Registry>()
    expectTypeOf<Gateway['drain']>().parameters.toEqualTypeOf<[number]>()
  })
})
