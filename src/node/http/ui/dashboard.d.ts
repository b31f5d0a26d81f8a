// dashboard.js is served as text (src/node/http/dashboard.ts imports it `with { type: "text" }`), not run here.
declare const text: string;
export default text;
