// The in-page check of .ci/check_pages.py: appended to every built page, it waits for MathJax,
// inspects the rendered page and appends its verdict as JSON in a pre element (id: __RESULT_ID__).
// __CONFIG__ and __RESULT_ID__ are filled in by check_pages.py.
(async () => {
  const CFG = __CONFIG__;
  const out = {errors: [], notes: [], width: window.innerWidth};
  const fail = (kind, msg) => out.errors.push({kind, msg: String(msg).slice(0, 300)});
  const where = (el) => {
    const sec = el.closest("section[id]");
    const cell = el.closest(".cell");
    return (sec ? "#" + sec.id : "") + (cell ? " cell " + Array.from(document.querySelectorAll(".cell")).indexOf(cell) : "");
  };
  const text = (el) => (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 160);
  try {
    if (document.readyState !== "complete") await new Promise(r => window.addEventListener("load", r));
    const hasMath = document.querySelector(".math, span.math, div.math, .MathJax, mjx-container");
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
      await window.MathJax.startup.promise;
      if (window.MathJax.typesetPromise) await window.MathJax.typesetPromise();
    } else if (hasMath) {
      fail("math", "the page has math but MathJax did not load");
    }
    // open every dropdown (hide-output cells, {dropdown}, collapsed solutions) so that what a
    // reader can unfold is checked too
    document.querySelectorAll("details").forEach(d => { d.open = true; });
    document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
    document.querySelectorAll("button.toggle-button").forEach(b => {
      const id = (b.dataset.target || "").replace(/^#/, "");
      const t = id ? document.getElementById(id) : null;
      if (t) t.classList.remove("toggle-hidden");
    });
    await new Promise(r => setTimeout(r, 300));
    const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;

    // ---------------------------------------------------------------- math
    document.querySelectorAll("span.math, div.math").forEach(el => {
      if (!el.querySelector("mjx-container")) fail("math", "untypeset math " + where(el) + ": " + text(el));
    });
    document.querySelectorAll("mjx-merror, [data-mjx-error], .MathJax_Error, mjx-container [data-mml-node='merror']").forEach(el =>
      fail("math", "MathJax error " + where(el) + ": " + (el.getAttribute("data-mjx-error") || text(el))));
    const skip = "script, style, pre, code, textarea, mjx-container, .highlight, kbd, samp, .math";
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    const raw = /\\\(|\\\)|\\\[|\\\]|\$\$/;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!raw.test(n.nodeValue)) continue;
      const p = n.parentElement;
      if (!p || p.closest(skip)) continue;
      fail("math", "raw TeX delimiters in the text " + where(p) + ": " + n.nodeValue.trim().slice(0, 120));
    }

    // ---------------------------------------------------------------- reveal.js slides
    // A deck (tools/slides.py) shows one slide at a time, scaled to the window: the column checks below do
    // not apply (the slides beside the current one sit off-screen on purpose). Each slide is shown in turn
    // and fails when its content is taller or wider than the slide (reveal.js cuts it off), when one of its
    // images is broken, or when it shows inline math still as $...$.
    const deck = window.Reveal && typeof window.Reveal.getSlides === "function" && document.querySelector(".reveal .slides");
    if (deck) {
      if (!window.Reveal.isReady()) await new Promise(r => window.Reveal.on("ready", r));
      const conf = window.Reveal.getConfig();
      const W = parseFloat(conf.width), H = parseFloat(conf.height);
      const leaves = Array.from(deck.querySelectorAll("section")).filter(s => !s.querySelector("section"));
      out.slides = leaves.length;
      for (const s of leaves) {
        const ix = window.Reveal.getIndices(s);
        window.Reveal.slide(ix.h, ix.v || 0);
        await new Promise(r => setTimeout(r, 50));  // (requestAnimationFrame does not run under --dump-dom)
        const head = s.querySelector("h1, h2, h3, h4, h5, h6");
        const title = text(head || s).replace(/¶$/, "").slice(0, 50);  // (without the heading's anchor link)
        const name = `slide ${ix.h + 1}${ix.v ? "." + (ix.v + 1) : ""} (${title})`;
        if (s.scrollHeight > H + 1) fail("overflow", `${name} is ${s.scrollHeight} px tall in a ${H} px slide: its bottom is cut off`);
        if (s.scrollWidth > W + 1) fail("overflow", `${name} is ${s.scrollWidth} px wide in a ${W} px slide`);
        s.querySelectorAll("img").forEach(img => {
          if (!img.complete || img.naturalWidth === 0) fail("image", `broken image ${(img.getAttribute("src") || "").slice(-80)} on ${name}`);
        });
        const w2 = document.createTreeWalker(s, NodeFilter.SHOW_TEXT);
        for (let n = w2.nextNode(); n; n = w2.nextNode()) {
          const p = n.parentElement;
          if (p && !p.closest(skip) && /\$[^$\s][^$]*\$/.test(n.nodeValue))
            fail("math", `untypeset inline math on ${name}: ${n.nodeValue.trim().slice(0, 120)}`);
        }
      }
      window.Reveal.slide(0, 0);
    }

    // ---------------------------------------------------------------- images
    const content = article.getBoundingClientRect();
    const cs = getComputedStyle(article);
    const colLeft = content.left + parseFloat(cs.paddingLeft), colRight = content.right - parseFloat(cs.paddingRight);
    const colWidth = colRight - colLeft;
    out.column = Math.round(colWidth);
    if (!deck) article.querySelectorAll("img").forEach(img => {
      const name = (img.getAttribute("src") || "").slice(-80);
      if (!img.complete || img.naturalWidth === 0) { fail("image", "broken image " + name + " " + where(img)); return; }
      const r = img.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;  // still hidden: nothing a reader sees
      const attrW = parseFloat(img.getAttribute("width") || "");
      const natural = attrW > 0 && !String(img.getAttribute("width")).endsWith("%") ? attrW : img.naturalWidth;
      if (img.closest(".cell_output") && r.width < CFG.minScale * natural - 0.5)
        fail("squeezed", `figure ${name} ${where(img)} shown at ${Math.round(r.width)} of ${natural} px (` +
             `${(100 * r.width / natural).toFixed(0)} %): its text falls below the size it was drawn at`);
      if (r.width > colWidth + 1 || r.right > colRight + 1)
        fail("overflow", `image ${name} ${where(img)} is ${Math.round(r.width)} px wide in a ${Math.round(colWidth)} px column`);
    });

    // ---------------------------------------------------------------- overflow
    const scrolls = (el) => { const o = getComputedStyle(el).overflowX; return o === "auto" || o === "scroll"; };
    const clips = (el) => { const o = getComputedStyle(el).overflowX; return o === "hidden" || o === "clip"; };
    const cands = article.querySelectorAll("figure, table, div.math, mjx-container[display='true'], .cell_output .output, div.highlight pre, .cell_output pre, svg");
    if (!deck) cands.forEach(el => {
      const r = el.getBoundingClientRect();
      if (r.width === 0) return;
      const tag = el.tagName.toLowerCase() + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "");
      // a table much wider than the column fails even where it scrolls: a reader sees only part of it
      const tableWidth = Math.max(r.width, el.scrollWidth);
      if (el.tagName === "TABLE" && tableWidth > colWidth * (1 + CFG.tableSlack))
        fail("table", `table ${where(el)} is ${Math.round(tableWidth)} px wide in a ${Math.round(colWidth)} px column ` +
             `(more than ${Math.round(100 * CFG.tableSlack)} % wider): ${text(el).slice(0, 60)}`);
      for (let a = el.parentElement; a && a !== article.parentElement; a = a.parentElement) {
        if (scrolls(a)) {
          if (el.scrollWidth > a.clientWidth + 1) out.notes.push(`${tag} ${where(el)} scrolls (${el.scrollWidth} in ${a.clientWidth} px)`);
          return;
        }
        const ar = a.getBoundingClientRect();
        if (clips(a) && r.right > ar.right + 1) {
          fail("overflow", `${tag} ${where(el)} is clipped: ${Math.round(r.width)} px in a ${Math.round(ar.width)} px box that does not scroll: ${text(el).slice(0, 60)}`);
          return;
        }
        if (a === article) break;
      }
      if (r.right > colRight + 1 || r.left < colLeft - 1)
        fail("overflow", `${tag} ${where(el)} sticks out of the ${Math.round(colWidth)} px column (${Math.round(r.width)} px): ${text(el).slice(0, 60)}`);
    });
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
      fail("overflow", `the page scrolls sideways (${document.documentElement.scrollWidth} px in ${document.documentElement.clientWidth})`);

    // ---------------------------------------------------------------- outputs
    article.querySelectorAll(".cell_output .stderr, .cell_output .output.stderr").forEach(el =>
      fail("output", "stderr output " + where(el) + ": " + text(el)));
    article.querySelectorAll(".cell_output .traceback, .cell_output .output.traceback, .cell_output .output.error").forEach(el =>
      fail("output", "traceback " + where(el) + ": " + text(el)));
    article.querySelectorAll(".cell_output, .jp-OutputArea-output").forEach(el => {
      const t = el.textContent || "";
      if (/Traceback \(most recent call last\)/.test(t)) fail("output", "traceback " + where(el) + ": " + text(el));
      const w = t.match(/\b[A-Z]\w*Warning\b\s*:[^\n]{0,100}/);
      if (w) fail("output", "Python warning " + where(el) + ": " + w[0]);
      if (/\d+%\|[^\n]*\|\s*\d+\/\d+/.test(t) || /IProgress|it\/s\]/.test(t)) fail("output", "progress bar " + where(el) + ": " + text(el));
      // a plumbing cell's return value shown to the reader: the list of names glue_findings returns
      if (/^\s*\[\s*'(ch\d+|sc)_\w+',/.test(t)) fail("output", "a list of glue names (assign the call's result to _) " + where(el) + ": " + text(el));
    });
    article.querySelectorAll("script[type='application/vnd.jupyter.widget-view+json'], .jupyter-widgets, .widget-area").forEach(el =>
      fail("output", "widget output " + where(el)));

    // ---------------------------------------------------------------- network
    const remote = (u) => /^(https?:)?\/\//i.test(u || "");
    document.querySelectorAll("script[src], img[src], iframe[src], source[src], video[src], audio[src], embed[src]").forEach(el => {
      if (remote(el.getAttribute("src"))) fail("network", `${el.tagName.toLowerCase()} loads ${el.getAttribute("src")}`);
    });
    document.querySelectorAll("link[href]").forEach(el => {
      const rel = (el.getAttribute("rel") || "").toLowerCase();
      if (/stylesheet|preload|modulepreload|icon|manifest|prefetch/.test(rel) && remote(el.getAttribute("href")))
        fail("network", `link rel=${rel} loads ${el.getAttribute("href")}`);
    });
    document.querySelectorAll("style").forEach(el => {
      const m = (el.textContent || "").match(/@import\s+url\(["']?(https?:)?\/\/[^)]+\)/);
      if (m) fail("network", "style imports " + m[0]);
    });
    performance.getEntriesByType("resource").forEach(e => {
      if (/^https?:/i.test(e.name)) fail("network", "requested " + e.name);
    });
  } catch (e) {
    fail("check", "the check itself failed: " + e + (e && e.stack ? " " + e.stack.slice(0, 200) : ""));
  }
  const pre = document.createElement("pre");
  pre.id = "__RESULT_ID__";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
