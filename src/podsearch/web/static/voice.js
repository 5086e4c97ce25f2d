// podsearch spoken queries: record with MediaRecorder, upload to /api/search/audio, show the
// transcript in the search box and the results. No external resources.
"use strict";

(() => {
  const MAX_SECONDS = 15; // the server accepts more; a query rarely needs it
  const MIME_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

  const button = document.getElementById("mic");
  const status = document.getElementById("voice-status");
  const langSelect = document.getElementById("audio-lang");
  const input = document.getElementById("q");
  if (!button || !status || !input) return;

  let recorder = null;
  let timer = null;
  let busy = false; // starting the microphone or uploading: clicks wait

  function page() {
    return window.podsearchPage || null;
  }

  function say(text, kind = "") {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function supported() {
    return Boolean(
      navigator.mediaDevices &&
        typeof navigator.mediaDevices.getUserMedia === "function" &&
        typeof window.MediaRecorder === "function",
    );
  }

  function setRecording(on) {
    button.classList.toggle("is-recording", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.setAttribute("aria-label", on ? "Stop recording and search" : "Search by voice");
    button.title = on ? "Stop recording and search" : "Search by voice";
  }

  function micError(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "Microphone access was refused. Allow it in the browser's site settings, or type your query.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "No microphone was found. Connect one, or type your query.";
    }
    if (name === "NotReadableError") {
      return "The microphone is busy in another application. Close it, or type your query.";
    }
    return "The microphone could not be started. Type your query instead.";
  }

  async function start() {
    if (!supported()) {
      say(
        "Voice search needs a browser with microphone recording (and HTTPS or localhost). " +
          "Type your query instead.",
        "error",
      );
      return;
    }
    let stream;
    busy = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      say(micError(err), "error");
      return;
    } finally {
      busy = false;
    }
    const mimeType = MIME_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
    let rec;
    try {
      rec = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    } catch {
      stream.getTracks().forEach((t) => t.stop());
      say("This browser cannot record audio. Type your query instead.", "error");
      return;
    }
    const chunks = [];
    rec.addEventListener("dataavailable", (ev) => {
      if (ev.data && ev.data.size) chunks.push(ev.data);
    });
    rec.addEventListener("stop", () => {
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(timer);
      setRecording(false);
      recorder = null;
      const blob = new Blob(chunks, { type: rec.mimeType || mimeType || "audio/webm" });
      upload(blob);
    });
    recorder = rec;
    rec.start();
    setRecording(true);
    let left = MAX_SECONDS;
    say(`Listening… speak your query, then click the microphone (${left} s left).`, "live");
    timer = setInterval(() => {
      left -= 1;
      if (left <= 0) stop();
      else say(`Listening… speak your query, then click the microphone (${left} s left).`, "live");
    }, 1000);
  }

  function stop() {
    clearInterval(timer);
    if (recorder && recorder.state !== "inactive") recorder.stop();
  }

  function extension(type) {
    if (type.includes("ogg")) return "ogg";
    if (type.includes("mp4")) return "m4a";
    return "webm";
  }

  async function upload(blob) {
    if (!blob.size) {
      say("Nothing was recorded. Try again, or type your query.", "error");
      return;
    }
    const p = page();
    const state = p ? p.formState() : { mode: "hybrid", k: 10 };
    const data = new FormData();
    data.append("audio", blob, `query.${extension(blob.type)}`);
    for (const key of ["mode", "k", "lang", "show", "category", "date_from", "date_to"]) {
      if (state[key]) data.append(key, String(state[key]));
    }
    if (langSelect && langSelect.value) data.append("audio_lang", langSelect.value);
    busy = true;
    button.disabled = true;
    say("Transcribing…", "live");
    if (p) p.setBusy(true);
    try {
      const res = await fetch("/api/search/audio", {
        method: "POST",
        body: data,
        headers: { Accept: "application/json" },
      });
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      if (!res.ok) {
        const detail =
          body && typeof body.detail === "string" ? body.detail : `The server answered ${res.status}`;
        say(`Voice search failed: ${detail}`, "error");
        return;
      }
      const t = body.transcript || {};
      input.value = t.text || "";
      const lang = t.language ? ` (${t.language})` : "";
      say(`Heard${lang}: “${t.text || ""}”`, "ok");
      if (p) p.showResults(body, { ...state, q: t.text || "", offset: 0 });
    } catch {
      say("Could not reach the search service. Check your connection and try again.", "error");
    } finally {
      busy = false;
      button.disabled = false;
      if (p) p.setBusy(false);
    }
  }

  button.hidden = false;
  setRecording(false);
  if (!supported()) button.classList.add("is-unavailable");
  const bar = document.getElementById("voice-bar");
  button.addEventListener("click", () => {
    if (bar) bar.hidden = false; // the spoken-language choice matters once the mic is used
    if (busy) return;
    if (recorder) stop();
    else start();
  });
})();
