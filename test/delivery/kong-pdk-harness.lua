-- Runs kong/plugins/gorten-problem-details under LuaJIT (Kong's Lua) with a small stand-in
-- for the part of Kong 3.4's PDK it calls, so kong-plugin.test.ts can check it without a
-- Kong: one answer (status, source, headers, body chunks) as JSON on stdin, the headers
-- and body the client would get as JSON on stdout. `luajit kong-pdk-harness.lua schema`
-- prints the plugin schema's name and config fields instead. The stand-in keeps the PDK's
-- phase rules and get_raw_body's buffering (kong/pdk/response.lua).
local cjson = require "cjson.safe"

local root = arg[0]:match("^(.*)/test/delivery/[^/]+$") or "../.."
package.path = root .. "/?.lua;" .. package.path

if arg[1] == "schema" then
  package.loaded["kong.db.schema.typedefs"] = {
    no_consumer = { type = "foreign", eq = nil },
    protocols_http = { type = "set" },
  }
  local schema = require "kong.plugins.gorten-problem-details.schema"
  local names = {}
  for _, field in ipairs(schema.fields) do
    for name, def in pairs(field) do
      names[#names + 1] = name
      if name == "config" then
        io.write(cjson.encode({ name = schema.name, config_fields = #def.fields, fields = names }))
      end
    end
  end
  return
end

local answer = assert(cjson.decode(io.read("*a")), "stdin: not JSON")

local phase
local headers = {}
for name, value in pairs(answer.headers or {}) do headers[name:lower()] = value end
local chunk_arg = {}
local body_buffer

local function in_phase(allowed)
  if not allowed[phase] then error("PDK function called in phase " .. phase, 3) end
end
local HEADER_BODY = { header_filter = true, body_filter = true }
local HEADER = { header_filter = true }
local BODY = { body_filter = true }

_G.kong = {
  ctx = { plugin = {} },
  response = {
    get_status = function() in_phase(HEADER_BODY) return answer.status end,
    get_source = function() in_phase(HEADER_BODY) return answer.source end,
    get_header = function(name) in_phase(HEADER_BODY) return headers[name:lower()] end,
    set_header = function(name, value)
      in_phase(HEADER)
      headers[name:lower()] = tostring(value)
    end,
    clear_header = function(name)
      in_phase(HEADER)
      headers[name:lower()] = nil
    end,
    -- As the PDK: nil for each chunk but the last, which gets (and returns) the whole body.
    get_raw_body = function()
      in_phase(BODY)
      local chunk, eof = chunk_arg[1], chunk_arg[2]
      if type(chunk) == "string" and chunk ~= "" then
        body_buffer = body_buffer or {}
        body_buffer[#body_buffer + 1] = chunk
      end
      if eof then
        chunk_arg[1] = table.concat(body_buffer or {})
        return chunk_arg[1]
      end
      chunk_arg[1] = nil
      return nil
    end,
    set_raw_body = function(body)
      in_phase(BODY)
      assert(type(body) == "string", "body must be a string")
      chunk_arg[1] = body == "" and "\n" or body
      chunk_arg[2] = true
      body_buffer = nil
    end,
  },
}

local handler = require "kong.plugins.gorten-problem-details.handler"
local conf = {}

phase = "header_filter"
if handler.header_filter then handler:header_filter(conf) end

phase = "body_filter"
local sent = {}
local chunks = answer.chunks or {}
for i, chunk in ipairs(chunks) do
  chunk_arg = { chunk, i == #chunks }
  if handler.body_filter then handler:body_filter(conf) end
  if chunk_arg[1] ~= nil then sent[#sent + 1] = chunk_arg[1] end
  if chunk_arg[2] and i < #chunks then break end -- a filter that ends the body early
end

io.write(cjson.encode({ headers = headers, body = table.concat(sent) }))
