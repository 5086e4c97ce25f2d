// podsearch web page: plain JS over the JSON API. No build step, no external resources.
"use strict";

(() => {
  const DEFAULT_K = 10;
  const MAX_K = 100;
  const MAX_OFFSET = 1000;
  const MODES = ["hybrid", "dense", "keyword"];
  const FILTER_KEYS = ["lang", "category", "date_from", "date_to"];

  const $ = (id) => document.getElementById(id);
  const form = $("search-form");
  const input = $("q");
  const els = {
    status: $("status"),
    error: $("error"),
    errorDetail: $("error-detail"),
    empty: $("empty"),
    emptyDetail: $("empty-detail"),
    intro: $("intro"),
    hits: $("hits"),
    pager: $("pager"),
    prev: $("prev"),
    next: $("next"),
    pageLabel: $("page-label"),
    progress: $("progress"),
    results: $("results"),
    reset: $("reset-filters"),
    indexInfo: $("index-info"),
    template: $("hit-template"),
  };

  let languageNames = null;
  try {
    languageNames = new Intl.DisplayNames([navigator.language || "en", "en"], {
      type: "language",
    });
  } catch {
    languageNames = null;
  }
  const dateFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  });

  let current = null; // the state of the search on screen
  let pageSize = DEFAULT_K; // from ?k=, kept for new searches
  let inflight = null; // AbortController of the running request

  // ---- state <-> URL <-> form -------------------------------------------------------

  function stateFromUrl() {
    const p = new URLSearchParams(window.location.search);
    const mode = p.get("mode");
    const offset = Number.parseInt(p.get("offset") || "0", 10);
    const k = Number.parseInt(p.get("k") || "", 10);
    return {
      q: p.get("q") || "",
      mode: MODES.includes(mode) ? mode : "hybrid",
      lang: p.get("lang") || "",
      category: p.get("category") || "",
      date_from: p.get("date_from") || "",
      date_to: p.get("date_to") || "",
      offset: Number.isFinite(offset) && offset > 0 ? offset : 0,
      k: Number.isFinite(k) && k >= 1 && k <= MAX_K ? k : DEFAULT_K,
      hasQuery: p.has("q"),
    };
  }

  function stateFromForm(offset) {
    const mode = form.querySelector('input[name="mode"]:checked');
    return {
      q: input.value,
      mode: mode ? mode.value : "hybrid",
      lang: $("lang").value,
      category: $("category").value,
      date_from: $("date_from").value,
      date_to: $("date_to").value,
      offset: offset || 0,
      k: pageSize,
    };
  }

  function fillForm(state) {
    input.value = state.q;
    const radio = $(`mode-${state.mode}`);
    if (radio) radio.checked = true;
    for (const key of FILTER_KEYS) {
      const el = $(key);
      if (el.tagName === "SELECT" && state[key] && !hasOption(el, state[key])) {
        addOption(el, state[key], state[key]); // linkable even before facets arrive
      }
      el.value = state[key] || "";
    }
    updateResetButton();
  }

  function urlParams(state) {
    const p = new URLSearchParams();
    p.set("q", state.q);
    if (state.mode !== "hybrid") p.set("mode", state.mode);
    for (const key of FILTER_KEYS) if (state[key]) p.set(key, state[key]);
    if (state.offset) p.set("offset", String(state.offset));
    if (state.k !== DEFAULT_K) p.set("k", String(state.k));
    return p;
  }

  function apiParams(state) {
    const p = new URLSearchParams();
    p.set("q", state.q);
    p.set("mode", state.mode);
    p.set("k", String(state.k));
    p.set("offset", String(state.offset));
    for (const key of FILTER_KEYS) if (state[key]) p.set(key, state[key]);
    return p;
  }

  function hasOption(select, value) {
    return Array.from(select.options).some((o) => o.value === value);
  }

  function addOption(select, value, label) {
    const opt = document.createElement("option");
    opt.value = value;
    opt.textContent = label;
    select.append(opt);
  }

  function filtersActive() {
    return FILTER_KEYS.some((k) => $(k).value);
  }

  function updateResetButton() {
    els.reset.hidden = !filtersActive();
  }

  // ---- search -----------------------------------------------------------------------

  async function search(state, { push = true } = {}) {
    if (push) {
      const url = `${window.location.pathname}?${urlParams(state)}`;
      if (url !== `${window.location.pathname}${window.location.search}`) {
        window.history.pushState(null, "", url);
      }
    }
    document.title = state.q.trim() ? `${state.q.trim()} · podsearch` : "podsearch";

    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    setBusy(true);
    const t0 = performance.now();
    try {
      const res = await fetch(`/api/search?${apiParams(state)}`, {
        signal: controller.signal,
        headers: { Accept: "application/json" },
      });
      const body = await readJson(res);
      if (!res.ok) {
        showError(errorText(res, body));
        return;
      }
      current = state;
      render(body, performance.now() - t0);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      showError("Could not reach the server. Check that `podsearch serve` is running.");
    } finally {
      if (inflight === controller) {
        inflight = null;
        setBusy(false);
      }
    }
  }

  async function readJson(res) {
    try {
      return await res.json();
    } catch {
      return null;
    }
  }

  function errorText(res, body) {
    if (body && typeof body.detail === "string" && body.detail) return body.detail;
    return `The server answered ${res.status} ${res.statusText || ""}`.trim();
  }

  function setBusy(busy) {
    els.results.setAttribute("aria-busy", busy ? "true" : "false");
    els.progress.hidden = !busy;
    form.classList.toggle("is-busy", busy);
  }

  function clearResults() {
    els.hits.replaceChildren();
    els.error.hidden = true;
    els.empty.hidden = true;
    els.pager.hidden = true;
    els.intro.hidden = true;
  }

  function showError(detail) {
    clearResults();
    els.status.textContent = "";
    els.errorDetail.textContent = detail;
    els.error.hidden = false;
  }

  function render(body, clientMs) {
    clearResults();
    const hits = Array.isArray(body.hits) ? body.hits : [];
    const offset = body.offset || 0;
    const serverMs = typeof body.took_ms === "number" ? body.took_ms : clientMs;
    const timing = formatMs(serverMs);
    const modeLabel = { hybrid: "hybrid", dense: "meaning", keyword: "keywords" }[body.mode];

    if (hits.length === 0) {
      els.status.textContent = offset
        ? `No more results after ${offset} · ${timing}`
        : `No results · ${timing}`;
      els.emptyDetail.textContent =
        `Nothing matched “${body.query}”` +
        (filtersActive() ? " with these filters. Try clearing the filters" : ". Try other words") +
        (body.mode === "keyword" ? " or switch to Meaning or Hybrid mode." : ".");
      els.empty.hidden = false;
    } else {
      const first = offset + 1;
      const last = offset + hits.length;
      els.status.textContent =
        `${hits.length === 1 ? "1 result" : `Results ${first}–${last}`}` +
        ` for “${body.query}” · ${modeLabel} · ${timing}`;
    }

    const terms = queryTerms(body.query || "");
    const frag = document.createDocumentFragment();
    for (const hit of hits) frag.append(renderHit(hit, terms));
    els.hits.append(frag);

    const hasPrev = offset > 0;
    const k = body.k || DEFAULT_K;
    const hasNext = hits.length >= k && offset + k <= MAX_OFFSET;
    els.prev.disabled = !hasPrev;
    els.next.disabled = !hasNext;
    els.pageLabel.textContent = `Page ${Math.floor(offset / k) + 1}`;
    els.pager.hidden = !(hasPrev || hasNext);
  }

  function formatMs(ms) {
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(2)} s`;
  }

  function renderHit(hit, terms) {
    const li = els.template.content.firstElementChild.cloneNode(true);
    li.dataset.episodeId = hit.episode_id;
    const toggle = li.querySelector(".hit-toggle");
    toggle.textContent = hit.title || "(untitled episode)";
    toggle.addEventListener("click", () => toggleDetails(li, toggle, hit.episode_id));

    li.querySelector(".hit-show").textContent = hit.show_title || "Unknown show";
    const time = li.querySelector(".hit-date");
    if (hit.pub_date) {
      const d = new Date(hit.pub_date);
      time.dateTime = hit.pub_date;
      time.textContent = Number.isNaN(d.getTime()) ? hit.pub_date : dateFormat.format(d);
    } else {
      time.remove();
      li.querySelector(".hit-meta .sep").remove();
    }

    const lang = li.querySelector(".hit-lang");
    if (hit.language) {
      lang.textContent = languageName(hit.language);
      lang.title = `Language: ${hit.language}`;
      lang.lang = hit.language;
    } else {
      lang.remove();
    }

    highlightInto(li.querySelector(".hit-snippet"), hit.snippet || "", terms);

    const cats = li.querySelector(".hit-cats");
    for (const c of (hit.categories || []).slice(0, 4)) {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = c;
      cats.append(chip);
    }

    const more = document.createElement("a");
    more.className = "hit-similar";
    more.href = `/?similar=${encodeURIComponent(hit.episode_id)}`;
    more.textContent = "More like this";
    more.addEventListener("click", (ev) => {
      ev.preventDefault();
      showSimilar(hit.episode_id);
    });
    li.querySelector(".hit-actions").append(more);

    const score = li.querySelector(".hit-score");
    score.textContent = `score ${Number(hit.score).toFixed(3)}`;
    const ranks = [];
    if (hit.dense_rank) ranks.push(`meaning #${hit.dense_rank}`);
    if (hit.keyword_rank) ranks.push(`keywords #${hit.keyword_rank}`);
    score.title = ranks.length ? `Rank ${hit.rank}: ${ranks.join(", ")}` : `Rank ${hit.rank}`;
    return li;
  }

  function languageName(code) {
    try {
      const name = languageNames ? languageNames.of(code) : null;
      return name && name !== code ? name : code.toUpperCase();
    } catch {
      return code.toUpperCase();
    }
  }

  // Function words are not worth highlighting (a few languages; the rest just shows more).
  const STOPWORDS = new Set(
    (
      "a an and are as at be but by for from has have how i in is it its of on or our so " +
      "that the their this to was we what when where who why with you your " +
      "der die das und ist ein eine im in zu mit den von auf für nicht " +
      "el la los las y de del en un una con por para que es " +
      "le les et des du un une en pour avec est dans que qui " +
      "het een en van op met voor il lo gli e di da per che"
    ).split(" "),
  );

  // Words of the query (2+ letters), longest first so that overlapping matches prefer them.
  function queryTerms(q) {
    const words = (q.match(/[\p{L}\p{N}][\p{L}\p{N}\p{M}'’-]*/gu) || []).map((w) =>
      w.toLowerCase(),
    );
    const uniq = Array.from(new Set(words.filter((w) => w.length >= 2 && !STOPWORDS.has(w))));
    uniq.sort((a, b) => b.length - a.length);
    return uniq.slice(0, 30);
  }

  function highlightInto(el, text, terms) {
    el.replaceChildren();
    if (!terms.length) {
      el.textContent = text;
      return;
    }
    const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    const re = new RegExp(`(${escaped.join("|")})`, "giu");
    let last = 0;
    for (const m of text.matchAll(re)) {
      if (m.index > last) el.append(text.slice(last, m.index));
      const mark = document.createElement("mark");
      mark.textContent = m[0];
      el.append(mark);
      last = m.index + m[0].length;
    }
    if (last < text.length) el.append(text.slice(last));
  }

  async function toggleDetails(li, toggle, episodeId) {
    const box = li.querySelector(".hit-details");
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", open ? "false" : "true");
    box.hidden = open;
    li.classList.toggle("is-open", !open);
    if (open || box.dataset.loaded) return;
    box.textContent = "Loading…";
    try {
      const res = await fetch(`/api/episodes/${encodeURIComponent(episodeId)}`);
      const body = await readJson(res);
      if (!res.ok) {
        box.textContent = errorText(res, body);
        return;
      }
      box.replaceChildren(renderDetails(body));
      box.dataset.loaded = "1";
      // The full description replaces the snippet while the details are open.
      li.classList.toggle("has-description", Boolean(body.description));
    } catch {
      box.textContent = "Could not load this episode.";
    }
  }

  function renderDetails(ep) {
    const frag = document.createDocumentFragment();
    if (ep.description) {
      const p = document.createElement("p");
      p.className = "hit-description";
      p.textContent = ep.description;
      frag.append(p);
    }
    const facts = document.createElement("p");
    facts.className = "hit-facts";
    const parts = [];
    if (ep.duration_s) parts.push(`Duration ${formatDuration(ep.duration_s)}`);
    facts.textContent = parts.join(" · ");
    if (parts.length) frag.append(facts);
    if (ep.audio_url && /^https?:\/\//i.test(ep.audio_url)) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = ep.audio_url;
      audio.setAttribute("aria-label", `Play ${ep.title}`);
      frag.append(audio);
    }
    return frag;
  }

  function formatDuration(s) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return h ? `${h} h ${m} min` : `${m} min`;
  }

  // ---- more like this ---------------------------------------------------------------

  async function showSimilar(episodeId, { push = true } = {}) {
    const url = `${window.location.pathname}?similar=${encodeURIComponent(episodeId)}`;
    if (push) window.history.pushState(null, "", url);
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    setBusy(true);
    const t0 = performance.now();
    try {
      const api = `/api/episodes/${encodeURIComponent(episodeId)}/similar?k=${pageSize}`;
      const res = await fetch(api, { signal: controller.signal });
      const body = await readJson(res);
      if (!res.ok) {
        showError(errorText(res, body));
        return;
      }
      current = null;
      render(body, performance.now() - t0);
      const title = (body.source && body.source.title) || episodeId;
      els.status.textContent = `Episodes like “${title}” · ${formatMs(body.took_ms || performance.now() - t0)}`;
      document.title = `Like ${title} · podsearch`;
      els.pager.hidden = true;
      window.scrollTo({ top: 0 });
    } catch (err) {
      if (err && err.name === "AbortError") return;
      showError("Could not reach the server. Check that `podsearch serve` is running.");
    } finally {
      if (inflight === controller) {
        inflight = null;
        setBusy(false);
      }
    }
  }

  // ---- facets and index info --------------------------------------------------------

  async function loadFacets() {
    try {
      const res = await fetch("/api/facets");
      if (!res.ok) return;
      const body = await res.json();
      fillSelect($("lang"), body.languages || [], (v) => languageName(v));
      fillSelect($("category"), body.categories || [], (v) => v);
    } catch {
      // The filters still work from the URL; the page stays usable without facets.
    }
  }

  function fillSelect(select, facets, label) {
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first);
    for (const f of facets) addOption(select, f.value, `${label(f.value)} (${f.count})`);
    if (chosen && !hasOption(select, chosen)) addOption(select, chosen, chosen);
    select.value = chosen;
  }

  async function loadHealth() {
    try {
      const res = await fetch("/api/health");
      const body = await res.json();
      if (body.status !== "ok") {
        els.indexInfo.textContent = `Index unavailable: ${body.detail || res.status}`;
        return;
      }
      const n = (x) => Number(x || 0).toLocaleString();
      els.indexInfo.textContent =
        `${n(body.episodes)} episodes · ${n(body.shows)} shows` +
        (body.model ? ` · model ${body.model}` : "");
    } catch {
      els.indexInfo.textContent = "podsearch";
    }
  }

  // ---- events -----------------------------------------------------------------------

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    search(stateFromForm(0));
  });

  form.addEventListener("change", (ev) => {
    const t = ev.target;
    if (t === input) return;
    updateResetButton();
    if (current || input.value.trim()) search(stateFromForm(0));
  });

  els.reset.addEventListener("click", () => {
    for (const key of FILTER_KEYS) $(key).value = "";
    updateResetButton();
    if (current) search(stateFromForm(0));
    input.focus();
  });

  els.prev.addEventListener("click", () => {
    if (!current) return;
    search({ ...current, offset: Math.max(0, current.offset - current.k) });
    els.results.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  });

  els.next.addEventListener("click", () => {
    if (!current) return;
    search({ ...current, offset: current.offset + current.k });
    els.results.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  });

  window.addEventListener("popstate", () => {
    const state = stateFromUrl();
    pageSize = state.k;
    fillForm(state);
    const similarId = new URLSearchParams(window.location.search).get("similar");
    if (similarId && !state.hasQuery) {
      showSimilar(similarId, { push: false });
    } else if (state.hasQuery) {
      search(state, { push: false });
    } else {
      current = null;
      clearResults();
      els.status.textContent = "";
      els.intro.hidden = false;
    }
  });

  document.addEventListener("keydown", (ev) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
    if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      input.focus();
      input.select();
    }
  });

  // ---- spoken queries (voice.js shows their results through these) -------------------

  window.podsearchPage = {
    formState: () => stateFromForm(0),
    setBusy,
    showResults(body, state) {
      if (inflight) inflight.abort();
      const url = `${window.location.pathname}?${urlParams(state)}`;
      window.history.pushState(null, "", url);
      document.title = state.q.trim() ? `${state.q.trim()} · podsearch` : "podsearch";
      current = state;
      render(body, 0);
    },
  };

  // ---- start ------------------------------------------------------------------------

  const initial = stateFromUrl();
  pageSize = initial.k;
  fillForm(initial);
  loadFacets();
  loadHealth();
  const initialSimilar = new URLSearchParams(window.location.search).get("similar");
  if (initialSimilar && !initial.hasQuery) {
    showSimilar(initialSimilar, { push: false });
  } else if (initial.hasQuery) {
    search(initial, { push: false });
  } else {
    input.focus();
  }
})();
