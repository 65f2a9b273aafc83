"""Node-to-node transport: typed, versioned messages, authenticated with the cluster
secret, served on the transport port and called through a keep-alive connection pool.

  wire.py       the envelope and message codec (msgspec structs as msgpack)
  auth.py       HMAC proof of the cluster secret, with replay protection
  context.py    the headers and task id a request carries to every task it spawns
  service.py    TransportService: action registry, server, client, handshake, timeouts
"""
