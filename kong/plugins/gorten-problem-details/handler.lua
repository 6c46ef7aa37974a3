-- gorten-problem-details: every answer Kong makes itself on a tenant's route (jwt's 401
-- from kong.response.exit; acl's 401/403, rate-limiting's 429 and request-size-limiting's
-- 411/413/417 from kong.response.error; 502/504 from the error handler) leaves as an RFC
-- 9457 problem document, application/problem+json with type, title, status and detail,
-- like the services' own answers. Answers from the service pass untouched, and so do
-- Kong's own answers below 400 (a CORS preflight) or already problem+json (the operator's
-- request-termination bodies). Kong 3.4 PDK only; kong/README.md says how it is loaded.
local cjson = require "cjson.safe"

local PROBLEM_TYPE = "application/problem+json"

-- Node's reason phrases (http.STATUS_CODES), as the services write their titles.
local TITLES = {
  [400] = "Bad Request",
  [401] = "Unauthorized",
  [403] = "Forbidden",
  [404] = "Not Found",
  [405] = "Method Not Allowed",
  [408] = "Request Timeout",
  [411] = "Length Required",
  [412] = "Precondition Failed",
  [413] = "Payload Too Large",
  [414] = "URI Too Long",
  [417] = "Expectation Failed",
  [429] = "Too Many Requests",
  [494] = "Request Header Or Cookie Too Large", -- nginx's own code
  [500] = "Internal Server Error",
  [502] = "Bad Gateway",
  [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}

local ProblemDetails = {
  -- Lowest of the plugins on a route: its header_filter sees the final status and type.
  PRIORITY = 5,
  VERSION = "1.0.0",
}

local function is_problem(content_type)
  return content_type ~= nil and content_type:lower():find(PROBLEM_TYPE, 1, true) == 1
end

-- Kong's message in the body it made: the `message` of kong.response.exit's tables (jwt),
-- the `detail` of kong/problem.json, each of jwt's claim errors ({"exp":"token expired"}
-- becomes "exp: token expired"), or a text/plain body's one line. nil for anything else
-- (an HTML or XML page, chosen by the client's Accept header).
local function message_of(body, content_type)
  local decoded = cjson.decode(body)
  if type(decoded) == "table" then
    if type(decoded.message) == "string" then return decoded.message end
    if type(decoded.detail) == "string" then return decoded.detail end
    local claims = {}
    for claim, err in pairs(decoded) do
      if type(claim) == "string" and type(err) == "string" then
        claims[#claims + 1] = claim .. ": " .. err
      end
    end
    if #claims > 0 then
      table.sort(claims)
      return table.concat(claims, "; ")
    end
    return nil
  end
  if content_type ~= nil and content_type:lower():find("text/plain", 1, true) == 1 then
    local text = body:match("^%s*(.-)%s*$")
    if text ~= "" then return text end
  end
  return nil
end

function ProblemDetails:header_filter()
  local status = kong.response.get_status()
  if status < 400 or kong.response.get_source() == "service" then return end
  local content_type = kong.response.get_header("Content-Type")
  if is_problem(content_type) then return end
  kong.ctx.plugin.rewrite = { status = status, content_type = content_type }
  kong.response.set_header("Content-Type", PROBLEM_TYPE)
  -- The new body has another length; nginx then sends it chunked.
  kong.response.clear_header("Content-Length")
end

function ProblemDetails:body_filter()
  local rewrite = kong.ctx.plugin.rewrite
  if not rewrite then return end
  local body = kong.response.get_raw_body()
  if body == nil then return end -- buffered until the last chunk
  local status = rewrite.status
  local problem = cjson.encode({
    type = "about:blank",
    title = TITLES[status] or (status < 500 and "Client Error" or "Server Error"),
    status = status,
    detail = message_of(body, rewrite.content_type),
  })
  kong.response.set_raw_body(problem)
end

return ProblemDetails
