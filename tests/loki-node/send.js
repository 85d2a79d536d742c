// Sends a few log lines to a Loki push endpoint with winston-loki, protobuf + snappy
// (`json: false`), the way a Node.js service would. Used by tests/e2e/test_loki.py.
//
//   node send.js <base url> <tag>
//
// Exits non-zero when snappy is missing (winston-loki would silently fall back to JSON) or
// when a push fails.
'use strict'

const { createLogger } = require('winston')
const LokiTransport = require('winston-loki')

async function main () {
  const [host, tag] = process.argv.slice(2)
  require('snappy') // fail loudly rather than fall back to JSON
  let failed = null
  const transport = new LokiTransport({
    host,
    json: false,
    batching: true,
    interval: 0.2,
    labels: { app: 'winston-app', env: 'e2e', run: tag },
    headers: { 'X-Scope-OrgID': 'tenant-node' },
    onConnectionError: (err) => { failed = err }
  })
  if (transport.batcher.contentType !== 'application/x-protobuf') {
    throw new Error(`winston-loki is not sending protobuf: ${transport.batcher.contentType}`)
  }
  const logger = createLogger({ transports: [transport] })
  logger.info(`order 42 received ${tag}`)
  logger.warn(`payment slow ${tag}`, { labels: { component: 'payment' } })
  logger.error(`결제가 실패했습니다 ${tag}`)
  await transport.flush()
  await new Promise((resolve) => setTimeout(resolve, 300))
  await transport.flush()
  transport.close()
  if (failed) {
    throw failed
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err)
  process.exit(1)
})
