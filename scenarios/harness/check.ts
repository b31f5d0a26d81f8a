// check.ts moved to src/cli/launcher/check.ts (the one launcher); this path stays for the scenarios and tests that import it.
export * from "../../src/cli/launcher/check.ts";
