import type { NodeApi } from "../api.ts";
import { methodNotAllowed } from "./errors.ts";
import type { BuiltRoutes } from "./routes.ts";
// The page's three files, bundled into bin/qklzl as text by `bun build --compile` (no files at run time).
import pageHtml from "./ui/dashboard.html" with { type: "text" };
import pageCss from "./ui/dashboard.css" with { type: "text" };
import pageScript from "./ui/dashboard.js" with { type: "text" };

/**
 * dashboard_page: the whole page as one document (CSS and script inlined once at start-up), so one GET /ui
 * loads it and nothing else is fetched but the public API. bun-types types an .html import as an HTMLBundle;
 * with `type: "text"` it is the file's text.
 */
const dashboard_page = (pageHtml as unknown as string)
  .replace("/*{{css}}*/", () => pageCss)
  .replace("/*{{script}}*/", () => pageScript);

const page_headers = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-cache",
  // The page talks only to the cluster's own members (connect-src: any http origin, since members have other ports).
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src http: https:",
  "x-content-type-options": "nosniff",
} as const;

type RouteHandler = (req: Request) => Promise<Response>;

function getUi(req: Request): Response {
  if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(req.method, "/ui", "GET, HEAD");
  return new Response(dashboard_page, { headers: page_headers });
}

/** wantsHtml: a browser navigating (Accept names text/html); curl, the CLI and fetch() by default do not. */
function wantsHtml(req: Request): boolean {
  return (req.method === "GET" || req.method === "HEAD") && (req.headers.get("accept") ?? "").includes("text/html");
}

/**
 * memberOrigin: the Origin of a page served by a member of this cluster ("http://" + a member's http_addr), or
 * null. The page asks every member's /status, /metrics, /kv and /watch, which are other origins (other ports):
 * those GETs may be read cross-origin by a member's page only, never by any web site the operator visits.
 */
function memberOrigin(api: NodeApi, req: Request): string | null {
  const origin = req.headers.get("origin");
  if (origin === null || !origin.startsWith("http://")) return null;
  const addr = origin.slice("http://".length);
  const status = api.status();
  if (status.http_addr === addr || status.members.some((m) => m.http_addr === addr)) return origin;
  return null;
}

/**
 * withMemberCors lets a member's page read one route's GET answers; without an Origin header nothing changes,
 * and the handler's own promise is returned as it is (no extra hop on every request).
 */
function withMemberCors(api: NodeApi, handler: RouteHandler): RouteHandler {
  return (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return handler(req);
    const origin = memberOrigin(api, req);
    if (origin === null) return handler(req);
    return handler(req).then((response) => withOrigin(response, origin));
  };
}

function withOrigin(response: Response, origin: string): Response {
  try {
    response.headers.set("access-control-allow-origin", origin);
    response.headers.append("vary", "origin");
    return response;
  } catch {
    // Immutable headers (a Response.redirect): copy the answer, body stream included.
    const copy = new Response(response.body, response);
    copy.headers.set("access-control-allow-origin", origin);
    copy.headers.append("vary", "origin");
    return copy;
  }
}

/**
 * withDashboard adds GET /ui (the dashboard, README "Dashboard") and sends a browser asking for / there; any
 * other client gets exactly the answer / had before (the not_found JSON). The API's routes answer a member's
 * page cross-origin (withMemberCors). Registered in server.ts with one line.
 */
export function withDashboard(built: BuiltRoutes, api: NodeApi): BuiltRoutes {
  const routes: Record<string, RouteHandler> = {};
  for (const [path, handler] of Object.entries(built.routes)) routes[path] = withMemberCors(api, handler);
  routes["/ui"] = async (req) => getUi(req);
  routes["/"] = async (req) => (wantsHtml(req) ? new Response(null, { status: 302, headers: { location: "/ui" } }) : built.notFound(req));
  return { routes, notFound: built.notFound };
}
