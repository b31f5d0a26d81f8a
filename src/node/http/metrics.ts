/**
 * HttpMetrics counts answered requests per route and status class with preallocated counters: the hot path only
 * bumps an array slot, and the Prometheus text is built when /metrics is scraped.
 */
export class HttpMetrics {
  readonly #routes: string[];
  /** counts[route * 5 + class]: class 0..4 stands for 1xx..5xx. */
  readonly #counts: Float64Array;
  #forwarded = 0;
  #forwardFailures = 0;

  constructor(routes: string[]) {
    this.#routes = routes;
    this.#counts = new Float64Array(routes.length * 5);
  }

  routeIndex(route: string): number {
    const index = this.#routes.indexOf(route);
    if (index < 0) throw new Error(`unknown route ${route}`);
    return index;
  }

  count(routeIndex: number, status: number): void {
    const statusClass = Math.min(Math.max(Math.floor(status / 100) - 1, 0), 4);
    this.#counts[routeIndex * 5 + statusClass]! += 1;
  }

  forwarded(ok: boolean): void {
    if (ok) this.#forwarded += 1;
    else this.#forwardFailures += 1;
  }

  text(): string {
    const lines = [
      "# HELP qklzl_http_requests_total HTTP requests answered, by route and status class.",
      "# TYPE qklzl_http_requests_total counter",
    ];
    for (let route = 0; route < this.#routes.length; route++) {
      for (let statusClass = 0; statusClass < 5; statusClass++) {
        const value = this.#counts[route * 5 + statusClass]!;
        if (value === 0) continue;
        lines.push(`qklzl_http_requests_total{route="${this.#routes[route]}",code="${statusClass + 1}xx"} ${value}`);
      }
    }
    lines.push(
      "# HELP qklzl_http_forwarded_total Requests this node forwarded to the leader, by outcome.",
      "# TYPE qklzl_http_forwarded_total counter",
      `qklzl_http_forwarded_total{result="ok"} ${this.#forwarded}`,
      `qklzl_http_forwarded_total{result="error"} ${this.#forwardFailures}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
