-- The schema of gorten-problem-details (handler.lua): no settings. It runs on HTTP routes
-- only and never per consumer: it applies to every answer Kong makes on a route, whoever
-- the caller is (jwt's 401 has no consumer yet).
local typedefs = require "kong.db.schema.typedefs"

return {
  name = "gorten-problem-details",
  fields = {
    { consumer = typedefs.no_consumer },
    { protocols = typedefs.protocols_http },
    { config = { type = "record", fields = {} } },
  },
}
