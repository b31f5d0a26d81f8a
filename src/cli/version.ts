/** version: kept equal to package.json's (a test checks), since src/ may not import files outside it. */
export const version = "0.1.0";
