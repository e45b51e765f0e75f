"use strict";
// The cleaner page: reads pages of a ranking from the JSON API and sends each decision
// to the server as it is made (the server writes it to disk at once).

const FOLD_AT = 280;  // characters; longer texts show folded, expandable
const view = { ranking: "top_losses", given: "", predicted: "", page: 0, page_size: 20 };
let info = null;

const byId = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const content = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(content.error || `${response.status} ${response.statusText}`);
  return content;
}

function showMessage(text, isError = false) {
  const box = byId("message");
  box.textContent = text;
  box.className = isError ? "message error" : "message";
  box.hidden = false;
  clearTimeout(showMessage.timer);
  showMessage.timer = setTimeout(() => { box.hidden = true; }, isError ? 9000 : 5000);
}

function percent(p) {
  if (p > 0 && p < 0.005) return "<1%";
  if (p < 1 && p > 0.995) return ">99%";
  return `${Math.round(p * 100)}%`;
}

// ------------------------------------------------------------------ view state in the URL
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const name of Object.keys(view)) {
    if (params.has(name)) view[name] = ["page", "page_size"].includes(name) ? Number(params.get(name)) || 0 : params.get(name);
  }
  if (!view.page_size) view.page_size = 20;
}

function writeHash() {
  history.replaceState(null, "", "#" + new URLSearchParams(view).toString());
}

// ------------------------------------------------------------------ header and controls
function showSummary(summary) {
  const box = byId("summary");
  box.replaceChildren(
    element("span", { class: "count deleted", text: `${summary.deleted} deleted` }),
    element("span", { class: "count relabelled", text: `${summary.relabelled} relabelled` }),
    element("span", { class: "count kept", text: `${summary.kept} kept` }),
    element("span", { class: "count", text: `${summary.undecided} of ${summary.total} undecided` }),
  );
}

function fillSelect(select, options, value) {
  for (const [optionValue, label] of options) select.append(element("option", { value: optionValue, text: label }));
  select.value = value;
  if (select.value !== value) select.selectedIndex = 0;
}

function setUp(state) {
  info = state;
  byId("data-name").textContent = `${state.data} \u2192 ${state.output}`;
  byId("data-name").title = `decisions are kept in ${state.decisions}`;
  const note = byId("scores-note");
  note.hidden = false;
  if (state.scores === "training") {
    note.className = "note warning";
    note.textContent = "These texts are graded by the model that was trained on them: it is sure of the labels "
      + "it memorised, wrong or not, so mislabelled texts rank lower than they should. "
      + "For a fair ranking run sk-ulmfit clean without --scores training (out-of-fold scores).";
  } else {
    note.className = "note";
    note.textContent = "Graded out of fold: no text is scored by a model that saw its label.";
  }
  const rankings = state.rankings.map((r) => [r.name, r.title]);
  if (!state.rankings.some((r) => r.name === view.ranking)) view.ranking = state.rankings[0].name;
  fillSelect(byId("ranking"), rankings, view.ranking);
  const labels = state.classes.map((c) => [c, c]);
  fillSelect(byId("given"), labels, view.given);
  fillSelect(byId("predicted"), labels, view.predicted);
  byId("page-size").value = String(view.page_size);
  if (byId("page-size").value !== String(view.page_size)) {
    byId("page-size").append(element("option", { text: String(view.page_size) }));
    byId("page-size").value = String(view.page_size);
  }
  showSummary(state.summary);
}

function bindControls() {
  const filters = { ranking: "ranking", given: "given", predicted: "predicted", "page-size": "page_size" };
  for (const [id, name] of Object.entries(filters)) {
    byId(id).addEventListener("change", (event) => {
      view[name] = name === "page_size" ? Number(event.target.value) : event.target.value;
      view.page = 0;
      load();
    });
  }
  for (const suffix of ["", "-bottom"]) {
    // the pager under the rows also takes the reader back to the first row of the new page
    const turn = async (step) => {
      view.page += step;
      await load();
      if (suffix) window.scrollTo(0, 0);
    };
    byId("previous" + suffix).addEventListener("click", () => turn(-1));
    byId("next" + suffix).addEventListener("click", () => turn(1));
  }
  byId("save").addEventListener("click", save);
}

// ------------------------------------------------------------------ rows
function scoreText(value) {
  const ranking = info.rankings.find((r) => r.name === view.ranking);
  const name = ranking ? ranking.score : "score";
  return `${name} ${value.toFixed(name === "loss" ? 2 : 3)}`;
}

function metaOf(row) {
  const given = element("span", { class: "chip", text: row.label, title: `given label: ${row.label}` });
  const predicted = element("span", {
    class: row.predicted === row.label ? "chip" : "chip disagrees", text: row.predicted,
    title: `predicted: ${row.predicted}`,
  });
  // in a near-duplicate pair the similarity heads the pair, so the text's line shows its position only
  const score = row.pair === null ? ` \u00b7 ${scoreText(row.score)}` : "";
  return element("div", { class: "meta" },
    element("div", {}, element("span", { class: "position", text: `#${row.position}` }), score),
    element("div", {}, "given ", given, ` ${percent(row.p_label)}`),
    element("div", {}, "predicted ", predicted, ` ${percent(row.p_predicted)}`),
    ...(view.ranking === "most_unsure"
      ? [element("div", {}, "runner-up ", element("span", { class: "chip", text: row.runner_up }), ` ${percent(row.p_runner_up)}`)]
      : []),
    element("div", { class: "new-label", hidden: "" }, "new label ", element("span", { class: "chip new" })));
}

function textOf(row) {
  const box = element("div", {});
  const text = element("div", { class: "text", text: row.text });
  box.append(text);
  if (row.text.length > FOLD_AT) {
    text.classList.add("folded");
    const toggle = element("button", { class: "fold", type: "button", text: `Show all (${row.text.length.toLocaleString()} characters)` });
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", () => {
      const folded = text.classList.toggle("folded");
      toggle.textContent = folded ? `Show all (${row.text.length.toLocaleString()} characters)` : "Show less";
      toggle.setAttribute("aria-expanded", String(!folded));
    });
    box.append(toggle);
  }
  return box;
}

function showDecision(card, row) {
  card.classList.remove("keep", "delete", "relabel");
  if (row.decision) card.classList.add(row.decision);
  card.querySelector("button.keep").classList.toggle("on", row.decision === "keep");
  card.querySelector("button.delete").classList.toggle("on", row.decision === "delete");
  const select = card.querySelector("select");
  select.value = row.decision === "relabel" ? row.new_label : "";
  select.classList.toggle("on", row.decision === "relabel");
  const newLabel = card.querySelector(".new-label");
  newLabel.hidden = row.decision !== "relabel";
  newLabel.querySelector(".chip").textContent = row.new_label || "";
  card.title = { keep: "kept", delete: "deleted", relabel: `relabelled ${row.label} \u2192 ${row.new_label}` }[row.decision]
    || "undecided";
}

async function decide(card, row, action, label) {
  try {
    const answer = await api("/api/decision", { position: row.position, action, label });
    // the same text may be on the page twice (near-duplicate pairs): update every copy
    for (const other of document.querySelectorAll(`.card[data-position="${row.position}"]`)) {
      other.row.decision = answer.decision;
      other.row.new_label = answer.new_label;
      showDecision(other, other.row);
    }
    showSummary(answer.summary);
  } catch (error) {
    showMessage(`Not saved: ${error.message}`, true);
    showDecision(card, row);
  }
}

function actionsOf(card, row) {
  const keep = element("button", { class: "keep", type: "button", text: "Keep", title: "keep with its given label" });
  const remove = element("button", { class: "delete", type: "button", text: "Delete", title: "leave it out of the cleaned table" });
  const relabel = element("select", { "aria-label": `relabel text ${row.position}` },
    element("option", { value: "", text: "Relabel to\u2026" }));
  for (const name of info.classes) {
    if (name !== row.label) relabel.append(element("option", { value: name, text: name }));
  }
  keep.addEventListener("click", () => decide(card, row, "keep"));
  remove.addEventListener("click", () => decide(card, row, "delete"));
  relabel.addEventListener("change", () => {
    if (relabel.value) decide(card, row, "relabel", relabel.value);
    else decide(card, row, "keep");
  });
  return element("div", { class: "actions" }, keep, remove, relabel);
}

function cardOf(row) {
  const card = element("article", { class: "card", "data-position": String(row.position) });
  card.row = row;
  card.append(metaOf(row), textOf(row), actionsOf(card, row));
  if (row.pair !== null) card.classList.add("paired");
  showDecision(card, row);
  return card;
}

function showRows(page) {
  const rows = byId("rows");
  rows.replaceChildren();
  if (!page.rows.length) {
    rows.append(element("p", { class: "empty", text: "No texts match these filters." }));
  }
  let pair = null;
  for (const row of page.rows) {
    if (row.pair !== null && row.pair !== pair) {
      pair = row.pair;
      rows.append(element("div", {
        class: "pair-head", text: `Pair ${row.pair + 1} \u00b7 similarity ${row.score.toFixed(3)}`,
      }));
    }
    rows.append(cardOf(row));
  }
  const text = `page ${page.page + 1} of ${page.n_pages} \u00b7 ${page.n_rows.toLocaleString()} texts`;
  for (const suffix of ["", "-bottom"]) {
    byId("page-info" + suffix).textContent = text;
    byId("previous" + suffix).disabled = page.page === 0;
    byId("next" + suffix).disabled = page.page >= page.n_pages - 1;
  }
}

async function load() {
  try {
    const page = await api("/api/page?" + new URLSearchParams(view).toString());
    view.page = page.page;
    writeHash();
    showRows(page);
  } catch (error) {
    showMessage(error.message, true);
  }
}

async function save() {
  const button = byId("save");
  button.disabled = true;
  try {
    const answer = await api("/api/save", {});
    showMessage(`Saved ${answer.n_rows.toLocaleString()} rows to ${answer.output} `
      + `(${answer.n_deleted} deleted, ${answer.n_relabelled} relabelled); change log: ${answer.changes}`);
  } catch (error) {
    showMessage(`Save failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  readHash();
  bindControls();
  try {
    setUp(await api("/api/state"));
  } catch (error) {
    showMessage(error.message, true);
    return;
  }
  await load();
}

start();
