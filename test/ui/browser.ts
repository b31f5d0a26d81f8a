// browser.ts: the real browser of the dashboard test: Debian's chromium driven by puppeteer-core (which downloads
// no browser). Skipped, with a line saying so, where chromium is not installed.
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** chromium_paths: where Debian (apt-get install chromium) and other distributions put it; $CHROMIUM first. */
const chromium_paths = [process.env.CHROMIUM ?? "", "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p) => p.length > 0);

export function findChromium(): string | null {
  return chromium_paths.find((path) => existsSync(path)) ?? null;
}

export async function openBrowser(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
  });
}

export async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url, { waitUntil: "load", timeout: 15_000 });
  return page;
}

/**
 * screenshot saves the page as a PNG: to $QKLZL_UI_SCREENSHOT when set (`QKLZL_UI_SCREENSHOT=docs/dashboard.png`
 * makes the README's picture), else to `fallback` (the test's temp dir), so a plain test run leaves the repo clean.
 */
export async function screenshot(page: Page, fallback: string): Promise<string> {
  const path = process.env.QKLZL_UI_SCREENSHOT ?? fallback;
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

export type { Browser, Page };
