// Starts kinesalite on one address: its own cli.js listens on every interface and ignores
// --host, and the local stack must stay on the loopback address (docs/security.md).
// Usage: node serve.js <node_modules dir> --host 127.0.0.1 --port 4567 [kinesalite options]
'use strict'

const path = require('path')

const modules = process.argv[2]
const argv = require(path.join(modules, 'minimist'))(process.argv.slice(3))
const kinesalite = require(path.join(modules, 'kinesalite'))

if (!argv.host || !argv.port) {
  console.error('serve.js: --host and --port are required')
  process.exit(2)
}

const server = kinesalite(argv).listen(argv.port, argv.host, () => {
  const address = server.address()
  console.log('Listening at http://%s:%s', address.address, address.port)
})
