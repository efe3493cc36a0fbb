"use strict";
(() => {
  const data = JSON.parse(document.getElementById("report").textContent);
  const panels = new Map(data.panels.map((p) => [p.id, p]));
  const canvas = document.getElementById("canvas");
  const panel = document.getElementById("panel");
  const body = document.getElementById("panel-body");
  const first = document.getElementById("view-0");
  let current = 0;

  /* An element with attributes and children (text or elements); text is never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined) el.append(c);
    }
    return el;
  }

  function show(k) {
    const svg = k === 0 ? first : document.getElementById("t-" + k).content.firstElementChild.cloneNode(true);
    canvas.replaceChildren(svg);
    current = k;
    centre();
    crumbs();
  }

  /* A drawing wider than its box opens with the view's top metric centred: the box would
     start at the drawing's left edge, which on a phone cuts off the root, the one card every
     reader starts from, with the moves beneath it. */
  function centre() {
    const top = canvas.querySelector(`.n[data-id="${CSS.escape(data.views[current].focus)}"]`);
    if (!top) return;
    const box = canvas.getBoundingClientRect();
    const card = top.getBoundingClientRect();
    const left = canvas.scrollLeft + (card.left + card.right) / 2 - (box.left + box.right) / 2;
    canvas.scrollTo(Math.max(0, left), 0);
  }

  function crumbs() {
    const nav = document.getElementById("crumbs");
    const chain = [];
    for (let k = current; k !== null; k = data.views[k].parent) chain.unshift(k);
    nav.replaceChildren();
    if (data.views.length === 1) return;
    chain.forEach((k, i) => {
      if (i > 0) nav.append(h("span", { class: "sep" }, "›"));
      const title = data.views[k].title;
      nav.append(k === current ? h("strong", {}, title) : h("button", { type: "button", "data-view": k }, title));
    });
  }

  /* The waterfall: from the value before, each input's contribution in turn, to the value now. */
  function waterfall(p) {
    if (!p.before || !p.after || p.inputs.length === 0) return null;
    let run = p.before[0];
    const points = [run];
    for (const c of p.inputs) { run += c.value; points.push(run); }
    const lo = Math.min(...points, p.after[0]);
    const hi = Math.max(...points, p.after[0]);
    const span = hi > lo ? hi - lo : 1;
    const at = (v) => ((v - lo) / span) * 96 + 2;
    const good = (v) => (p.good === null ? "" : (v > 0) === (p.good === "up") ? "good" : "bad");
    const rows = [h("tr", { class: "start" }, h("th", {}, p.from), h("td", { class: "bar" }, h("span", { class: "end", style: `left:${at(p.before[0])}%` })), h("td", { class: "num" }, p.before[1]))];
    let x = p.before[0];
    for (const c of p.inputs) {
      const a = at(Math.min(x, x + c.value)), b = at(Math.max(x, x + c.value));
      rows.push(h("tr", { "data-input": c.id }, h("th", {}, c.title), h("td", { class: "bar" }, h("span", { class: good(c.value), style: `left:${a}%;width:${Math.max(b - a, 0.5)}%` })), h("td", { class: "num" }, c.text)));
      x += c.value;
    }
    rows.push(h("tr", { class: "end" }, h("th", {}, p.to), h("td", { class: "bar" }, h("span", { class: "end", style: `left:${at(p.after[0])}%` })), h("td", { class: "num" }, p.after[1])));
    return [h("h3", {}, "Contributions of its inputs"), h("table", { class: "waterfall" }, rows)];
  }

  function parts(rows, attr) {
    return h("table", {}, rows.map((c) => h("tr", { [attr]: c.id }, h("th", {}, c.title), h("td", { class: "num" }, c.text))));
  }

  function open(id) {
    const p = panels.get(id);
    if (!p) return;
    for (const el of canvas.querySelectorAll(".n.selected")) el.classList.remove("selected");
    for (const el of canvas.querySelectorAll(`.n[data-id="${CSS.escape(id)}"]`)) el.classList.add("selected");
    const unit = p.unit ? " " + p.unit : "";
    const out = [h("h2", {}, p.title), h("div", { class: "value" }, p.after ? p.after[1] + unit : "no value")];
    out.push(h("p", { class: "meta" }, h("code", {}, p.formula)));
    for (const [role, names] of p.owners) out.push(h("p", { class: "meta" }, role + ": " + names));
    if (p.snoozed) out.push(h("p", { class: "note snoozed" }, p.snoozed));
    if (p.reason) {
      out.push(h("p", { class: "note reason" }, `No explanation from ${p.from} to ${p.to}: ${p.reason}`));
    } else {
      out.push(waterfall(p));
      if (p.leaves.length > 0) {
        out.push(h("h3", {}, "Top leaves"), parts(p.leaves, "data-leaf"));
        if (p.other_leaves) out.push(h("p", { class: "note" }, `and ${p.other_leaves[0]} more leaves: ${p.other_leaves[1]}`));
      }
      if (p.offsetting.length > 0) {
        out.push(h("h3", {}, "Offsetting movements"));
        for (const o of p.offsetting) out.push(h("p", { class: "meta" }, `${o.title} changed ${o.change}, hiding:`), parts(o.inputs, "data-offset"));
      }
      if (p.slices) {
        const head = h("tr", {}, h("th", {}, "Slice"), h("th", { class: "num" }, "Change"), h("th", { class: "num" }, "Share"), h("th", { class: "num" }, "Mix"), h("th", { class: "num" }, "Rate"));
        out.push(h("h3", {}, "Where it moved"), h("table", { class: "segments slices" }, head, p.slices.map((s) => h("tr", { "data-slice": s.name }, h("th", {}, s.name), h("td", { class: "num" }, s.text), h("td", { class: "num" }, s.share ?? ""), h("td", { class: "num" }, s.mix ?? ""), h("td", { class: "num" }, s.rate ?? "")))));
      }
      if (p.slices_note) out.push(h("p", { class: "note" }, "Where it moved: " + p.slices_note));
      if (p.segments.length > 0) {
        const head = h("tr", {}, h("th", {}, "Segment"), h("th", { class: "num" }, "Change"), h("th", { class: "num" }, "Mix"), h("th", { class: "num" }, "Rate"));
        out.push(h("h3", {}, "Segments"), h("table", { class: "segments" }, head, p.segments.map((s) => h("tr", { "data-segment": s.name }, h("th", {}, s.name), h("td", { class: "num" }, s.text), h("td", { class: "num" }, s.mix ?? ""), h("td", { class: "num" }, s.rate ?? "")))));
      }
      if (p.segments_note) out.push(h("p", { class: "note" }, p.segments_note));
      if (p.approximate.length > 0) out.push(h("p", { class: "note" }, "Approximate: " + p.approximate.join("; ")));
    }
    body.replaceChildren(...out.filter((x) => x !== null).flat());
    panel.hidden = false;
    panel.dataset.metric = id;
    if (window.matchMedia("(max-width: 800px)").matches) panel.scrollIntoView({ block: "start" });
  }

  canvas.addEventListener("click", (ev) => {
    const more = ev.target.closest(".more");
    if (more) { show(Number(more.dataset.view)); return; }
    const node = ev.target.closest(".n");
    if (node) open(node.dataset.id);
  });
  canvas.addEventListener("keydown", (ev) => {
    const node = ev.target.closest && ev.target.closest(".n");
    if (node && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); open(node.dataset.id); }
  });
  document.getElementById("crumbs").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-view]");
    if (b) show(Number(b.dataset.view));
  });
  document.getElementById("close").addEventListener("click", () => { panel.hidden = true; });
  centre();
  crumbs();
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
})();
