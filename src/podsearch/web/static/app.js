// podsearch web page: plain JS over the JSON API. No build step, no external resources.
"use strict";

(() => {
  const DEFAULT_K = 10;
  const MAX_K = 100;
  const MAX_OFFSET = 1000;
  const MODES = ["hybrid", "dense", "keyword"];
  const FILTER_KEYS = ["lang", "show", "category", "date_from", "date_to"];
  // Filter <select>s and the facet lists (of /api/facets and of each search) that fill them.
  const FACET_SELECTS = { lang: "languages", show: "shows", category: "categories" };

  const $ = (id) => document.getElementById(id);
  const form = $("search-form");
  const input = $("q");
  const els = {
    status: $("status"),
    error: $("error"),
    errorTitle: $("error-title"),
    errorDetail: $("error-detail"),
    weak: $("weak"),
    suggest: $("suggest"),
    suggestLink: $("suggest-link"),
    source: $("similar-source"),
    mode: $("mode"),
    filtersToggle: $("filters-toggle"),
    filtersCount: $("filters-count"),
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
      show: p.get("show") || "",
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
      show: $("show").value,
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
    p.set("facets", "true"); // counts for the filter menus and the pager's total
    for (const key of FILTER_KEYS) if (state[key]) p.set(key, state[key]);
    return p;
  }

  function hasOption(select, value) {
    return Array.from(select.querySelectorAll("option")).some((o) => o.value === value);
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
    const n = FILTER_KEYS.filter((k) => $(k).value).length;
    els.filtersCount.textContent = n ? ` (${n})` : "";
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
    showSource(null);

    if (inflight) inflight.abort();
    if (!state.q.trim()) {
      // Nothing to search for is not a failure: say what to do, quietly.
      current = null;
      clearResults();
      els.status.textContent = "Type a few words to search, e.g. a topic, a guest or a mood.";
      els.intro.hidden = false;
      input.focus();
      return;
    }
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
        showError(errorText(res, body), res.status);
        return;
      }
      current = state;
      render(body, performance.now() - t0);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      showError(OFFLINE_TEXT, 0);
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

  const OFFLINE_TEXT = "Could not reach the search service. Check your connection and try again.";

  // What a person can act on: input problems as the server words them (its validators write
  // whole sentences), everything else in plain words; details stay in the server's log.
  function errorText(res, body) {
    const detail = body && typeof body.detail === "string" ? body.detail : "";
    if (res.status === 404) return "That episode is not in this catalog (it may have been removed).";
    if (res.status === 422 || res.status === 400) {
      return detail ? capitalize(detail) : "The search could not be read. Check the words and filters.";
    }
    if (res.status === 429) return "Too many searches at once. Wait a moment and try again.";
    return "The search service cannot answer right now. Try again in a moment.";
  }

  function capitalize(text) {
    const t = text.trim();
    return t ? t[0].toUpperCase() + t.slice(1) : t;
  }

  function setBusy(busy) {
    els.results.setAttribute("aria-busy", busy ? "true" : "false");
    els.progress.hidden = !busy;
    form.classList.toggle("is-busy", busy);
  }

  function clearResults() {
    els.hits.replaceChildren();
    els.error.hidden = true;
    els.weak.hidden = true;
    els.suggest.hidden = true;
    els.empty.hidden = true;
    els.pager.hidden = true;
    els.intro.hidden = true;
  }

  // status: the HTTP status (0: no answer). A request the person can fix is a note, not an
  // alarm; only the service failing is shown in red.
  function showError(detail, status) {
    clearResults();
    els.status.textContent = "";
    const fixable = status >= 400 && status < 500;
    els.error.classList.toggle("message-note", fixable);
    els.error.classList.toggle("message-error", !fixable);
    els.errorTitle.textContent = fixable ? "Check your search" : "Search unavailable";
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

    const total = typeof body.total === "number" ? body.total : null;
    const ofTotal = total === null ? "" : ` of ${total.toLocaleString()}${body.total_exact ? "" : "+"}`;
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
        `${hits.length === 1 && !offset ? "1 result" : `Results ${first}–${last}${ofTotal}`}` +
        ` for “${body.query}” · ${modeLabel} · ${timing}`;
    }
    els.weak.hidden = !(body.weak && hits.length);
    if (body.did_you_mean && body.did_you_mean !== body.query && current) {
      const state = { ...current, q: body.did_you_mean, offset: 0 };
      els.suggestLink.textContent = body.did_you_mean;
      els.suggestLink.href = `${window.location.pathname}?${urlParams(state)}`;
      els.suggestLink.onclick = (ev) => {
        ev.preventDefault();
        fillForm(state);
        search(state);
      };
      els.suggest.hidden = false;
    }
    queryFacets = body.facets || null;
    fillFacets(queryFacets);

    const frag = document.createDocumentFragment();
    for (const hit of hits) frag.append(renderHit(hit));
    els.hits.append(frag);

    const hasPrev = offset > 0;
    const k = body.k || DEFAULT_K;
    const more = typeof body.has_more === "boolean" ? body.has_more : hits.length >= k;
    const hasNext = more && offset + k <= MAX_OFFSET;
    els.prev.disabled = !hasPrev;
    els.next.disabled = !hasNext;
    const pages = total === null ? "" : ` of ${Math.max(1, Math.ceil(total / k))}${body.total_exact ? "" : "+"}`;
    els.pageLabel.textContent = `Page ${Math.floor(offset / k) + 1}${pages}`;
    els.pager.hidden = !(hasPrev || hasNext);
  }

  function formatMs(ms) {
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(2)} s`;
  }

  function renderHit(hit) {
    const li = els.template.content.firstElementChild.cloneNode(true);
    renderArt(li.querySelector(".hit-art"), hit);
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

    const duration = li.querySelector(".hit-duration");
    if (hit.duration_s) {
      duration.textContent = formatDuration(hit.duration_s);
      duration.title = "Duration";
    } else {
      duration.remove();
    }

    highlightInto(li.querySelector(".hit-snippet"), hit.snippet || "", hit.highlights || []);

    const audio = li.querySelector(".hit-audio");
    if (hit.audio_url && /^https?:\/\//i.test(hit.audio_url)) {
      audio.src = hit.audio_url;
      audio.setAttribute("aria-label", `Play ${hit.title || "episode"}`);
      audio.hidden = false;
    } else {
      audio.remove();
    }

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

  // The server says which words to highlight: [start, end) offsets of whole words whose stem
  // (in the episode's language) is a query word's stem. The page only draws them.
  function highlightInto(el, text, spans) {
    el.replaceChildren();
    let last = 0;
    const sorted = spans
      .filter((s) => Array.isArray(s) && s.length === 2 && s[0] >= 0 && s[1] <= text.length)
      .sort((a, b) => a[0] - b[0]);
    for (const [start, end] of sorted) {
      if (start < last || end <= start) continue;
      if (start > last) el.append(text.slice(last, start));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(start, end);
      el.append(mark);
      last = end;
    }
    if (last < text.length) el.append(text.slice(last));
  }

  // Show artwork: only http(s) URLs, loaded lazily; the show's first letter when there is
  // none or it fails to load.
  function renderArt(box, hit) {
    const letter = box.querySelector(".hit-art-letter");
    letter.textContent = Array.from((hit.show_title || hit.title || "?").trim())[0] || "?";
    const url = hit.image_url || "";
    if (!/^https?:\/\//i.test(url)) return;
    const img = document.createElement("img");
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.width = 64;
    img.height = 64;
    img.addEventListener("error", () => {
      img.remove();
      box.classList.remove("has-image");
    });
    img.addEventListener("load", () => box.classList.add("has-image"));
    img.src = url;
    box.append(img);
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
    if (ep.show_description) {
      const p = document.createElement("p");
      p.className = "hit-facts";
      p.textContent = `About the show: ${ep.show_description}`;
      frag.append(p);
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
        showSource(null);
        showError(errorText(res, body), res.status);
        return;
      }
      current = null;
      render({ ...body, facets: null, total: null }, performance.now() - t0);
      const title = (body.source && body.source.title) || episodeId;
      showSource(body.source || { episode_id: episodeId, title: episodeId, show_title: "" });
      const n = (body.hits || []).length;
      els.status.textContent = `${n} similar episode${n === 1 ? "" : "s"} · ${formatMs(body.took_ms || performance.now() - t0)}`;
      document.title = `Like ${title} · podsearch`;
      els.pager.hidden = true;
      window.scrollTo({ top: 0 });
    } catch (err) {
      if (err && err.name === "AbortError") return;
      showError(OFFLINE_TEXT, 0);
    } finally {
      if (inflight === controller) {
        inflight = null;
        setBusy(false);
      }
    }
  }

  // The episode a "more like this" list starts from, as a header; the mode switch does not
  // apply to it and is hidden meanwhile. null: back to searching.
  function showSource(src) {
    els.source.hidden = !src;
    els.mode.hidden = Boolean(src);
    if (!src) return;
    els.source.querySelector(".source-title").textContent = src.title || src.episode_id;
    els.source.querySelector(".source-show").textContent = src.show_title || "";
  }

  // ---- facets and index info --------------------------------------------------------

  let catalogFacets = null; // /api/facets: the whole catalog's values
  let queryFacets = null; // the facets of the search on screen (null: none)

  async function loadFacets() {
    try {
      const res = await fetch("/api/facets");
      if (!res.ok) return;
      catalogFacets = await res.json();
      fillFacets(queryFacets); // it may answer after the first search did
    } catch {
      // The filters still work from the URL; the page stays usable without facets.
    }
  }

  function facetItems(list, key) {
    return (list || []).map((f) =>
      key === "show"
        ? { value: f.show_id, label: f.title || f.show_id, count: f.episodes }
        : { value: f.value, label: key === "lang" ? languageName(f.value) : f.value, count: f.count },
    );
  }

  // query: a search's facets (counts over its matching set) or null (the catalog's counts).
  // A menu whose filter is set lists its values without counts (the search was narrowed by
  // it, so counting the others is not possible); the others list the query's values with
  // counts first, then the rest of the catalog's values.
  function fillFacets(query) {
    for (const [key, name] of Object.entries(FACET_SELECTS)) {
      const select = $(key);
      const catalog = facetItems(catalogFacets && catalogFacets[name], key);
      if (!query) {
        fillSelect(select, catalog, [], true);
      } else if (select.value) {
        fillSelect(select, catalog, [], false);
      } else {
        const counted = facetItems(query[name], key);
        const seen = new Set(counted.map((f) => f.value.toLowerCase()));
        const rest = catalog.filter((f) => !seen.has(f.value.toLowerCase()));
        fillSelect(select, counted, rest, true);
      }
    }
  }

  function fillSelect(select, items, rest, counts) {
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first);
    for (const f of items) addOption(select, f.value, counts ? `${f.label} (${f.count})` : f.label);
    if (rest.length) {
      const group = document.createElement("optgroup");
      group.label = "Not among the top results";
      for (const f of rest) addOption(group, f.value, f.label);
      select.append(group);
    }
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

  els.filtersToggle.addEventListener("click", () => {
    const open = els.filtersToggle.getAttribute("aria-expanded") !== "true";
    els.filtersToggle.setAttribute("aria-expanded", open ? "true" : "false");
    form.classList.toggle("controls-open", open);
  });

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
      showSource(null);
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
