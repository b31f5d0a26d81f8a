// A stylesheet imported `with { type: "text" }` is its text (src/node/http/dashboard.ts).
declare module "*.css" {
  const text: string;
  export default text;
}
