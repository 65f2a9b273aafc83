"""Node-to-node transport: typed, versioned messages, authenticated with the cluster
secret, and (to come with the service) an action registry and connection pool.

  wire.py     the envelope and message codec (msgspec structs as msgpack)
  auth.py     HMAC proof of the cluster secret, with replay protection
"""
