// Render pages in headless Debian Chromium (driven by the pinned npm playwright-core; no browser
// download) and measure what a reader sees.
//
//   node tests/render/render.mjs JOBS.json RESULTS.json
//
// JOBS.json: {"jobs": [{"name", "out" (PNG path), and either
//   "card" + "hostConfig" + "background"  (an Adaptive Card, rendered by the official
//                                          `adaptivecards` package with markdown-it, as Teams does)
//   or "html" (a path to a self-contained HTML file, opened with network access blocked)}]}
// RESULTS.json: one entry per job: {name, text (visible text), runs: [{text, ratio, size, weight}],
//   requests (URLs the page tried to fetch), errors}.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const [, , jobsPath, resultsPath] = process.argv;
const { jobs } = JSON.parse(fs.readFileSync(jobsPath, "utf8"));
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const acJs = path.join(root, "node_modules/adaptivecards/dist/adaptivecards.min.js");
const mdJs = path.join(root, "node_modules/markdown-it/dist/browser/markdown-it.umd.min.js");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

// Runs in the page: every visible text node's colour against the background behind it (alpha
// composited up the ancestor chain), as WCAG 2 contrast ratios.
function measure(rootSelector) {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const rootEl = document.querySelector(rootSelector);
  const runs = [];
  const walker = document.createTreeWalker(rootEl, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    runs.push({
      text,
      ratio: Math.round(((l1 + 0.05) / (l2 + 0.05)) * 100) / 100,
      size: parseFloat(style.fontSize),
      weight: Number(style.fontWeight),
      tag: el.tagName.toLowerCase(),
      bg: bg.slice(0, 3).map(Math.round).join(","),
    });
  }
  return { text: rootEl.innerText, runs };
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
const results = [];
try {
  for (const job of jobs) {
    const page = await browser.newPage({ viewport: { width: job.width || 420, height: 800 } });
    const requests = [];
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const own = job.html ? "file://" + path.resolve(job.html) : "";
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("about:") || url.startsWith("data:") || url === own) return route.continue();
      requests.push(url);
      return route.abort();
    });
    let selector;
    if (job.card) {
      await page.setContent(
        `<!doctype html><html><head><meta charset="utf-8"></head>` +
          `<body style="margin:0;padding:12px;background:${job.background}">` +
          `<div id="card" style="max-width:${(job.width || 420) - 24}px"></div></body></html>`,
      );
      await page.addScriptTag({ path: mdJs });
      await page.addScriptTag({ path: acJs });
      const err = await page.evaluate(
        ({ card, hostConfig }) => {
          try {
            const ac = new AdaptiveCards.AdaptiveCard();
            ac.hostConfig = new AdaptiveCards.HostConfig(hostConfig);
            const problems = [];
            ac.parse(card, new AdaptiveCards.SerializationContext());
            const el = ac.render();
            document.getElementById("card").appendChild(el);
            for (const v of ac.validateProperties().failures || []) problems.push(JSON.stringify(v));
            return problems.join("; ");
          } catch (e) {
            return String(e && e.stack ? e.stack : e);
          }
        },
        { card: job.card, hostConfig: job.hostConfig },
      );
      if (err) errors.push(err);
      selector = "#card";
    } else {
      await page.goto(own);
      selector = "body";
    }
    await page.waitForTimeout(50);
    const m = await page.evaluate(measure, selector);
    const el = await page.$(selector);
    await el.screenshot({ path: job.out });
    results.push({ name: job.name, ...m, requests, errors });
    await page.close();
  }
} finally {
  await browser.close();
}
fs.writeFileSync(resultsPath, JSON.stringify(results, null, 1));
