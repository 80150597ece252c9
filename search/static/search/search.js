// The search page: one resumable query per search, read 10 results at a time.
// The server keeps the handle in this visitor's session; this script only holds its
// uuid, and stops it when the results run out or the visitor leaves the page.
(function () {
  "use strict";

  var form = document.getElementById("search-form");
  if (!form) return;
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var urls = { start: form.action, next: form.dataset.nextUrl, end: form.dataset.endUrl };
  var q = form.elements.q;
  var filter = form.elements.filter;
  var qError = document.getElementById("q-error");
  var filterError = document.getElementById("filter-error");
  var searchButton = document.getElementById("search-button");
  var list = document.getElementById("results");
  var heading = document.getElementById("results-heading");
  var count = document.getElementById("result-count");
  var formError = document.getElementById("form-error");
  var more = document.getElementById("load-more");
  var endState = document.getElementById("end-state");
  var expired = document.getElementById("expired");
  var expiredMessage = document.getElementById("expired-message");
  var rerun = document.getElementById("rerun");
  var template = document.getElementById("result-template");

  var state = { handle: null, query: "", filter: "", shown: 0, busy: false, closedOnLeave: false };

  function post(url, fields, options) {
    var body = new URLSearchParams(fields);
    body.set("csrfmiddlewaretoken", csrf);
    return fetch(url, Object.assign({
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }, options || {})).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  // Stops the current handle. A beacon survives the page going away; fetch with
  // keepalive is the fallback. Both carry the CSRF token as a form field.
  function endCurrent(useBeacon) {
    if (!state.handle) return;
    var body = new URLSearchParams({ handle: state.handle, csrfmiddlewaretoken: csrf });
    state.handle = null;
    if (useBeacon && navigator.sendBeacon && navigator.sendBeacon(urls.end, body)) return;
    fetch(urls.end, { method: "POST", body: body, credentials: "same-origin", keepalive: true }).catch(function () {});
  }

  function setBusy(busy) {
    state.busy = busy;
    list.setAttribute("aria-busy", busy ? "true" : "false");
    searchButton.setAttribute("aria-disabled", busy ? "true" : "false");
    more.setAttribute("aria-disabled", busy ? "true" : "false");
    more.textContent = busy && !more.hidden ? "Loading…" : "Load more";
  }

  function clearMessages() {
    [[q, qError], [filter, filterError]].forEach(function (pair) {
      pair[0].removeAttribute("aria-invalid");
      pair[1].textContent = "";
    });
    formError.hidden = true;
    formError.textContent = "";
    expired.hidden = true;
  }

  function showProblem(response) {
    var errors = (response.data && response.data.errors) || {};
    var fields = { q: [q, qError], filter: [filter, filterError] };
    var focused = false;
    Object.keys(fields).forEach(function (name) {
      if (!errors[name]) return;
      fields[name][0].setAttribute("aria-invalid", "true");
      fields[name][1].textContent = errors[name];
      if (!focused) { fields[name][0].focus(); focused = true; }
    });
    if (!focused) {
      formError.textContent = (response.data && response.data.message) ||
        "Something went wrong (HTTP " + response.status + "). Please try again.";
      formError.hidden = false;
    }
  }

  function showGone(message) {
    state.handle = null;
    more.hidden = true;
    if (message) expiredMessage.textContent = message;
    expired.hidden = false;
    rerun.focus();
  }

  function renderResult(result) {
    var item = template.content.firstElementChild.cloneNode(true);
    item.dataset.resultId = result.id;
    item.dataset.score = String(result.score);
    item.querySelector(".rank").textContent = "#" + result.rank;
    item.querySelector(".title").textContent = result.title;
    item.querySelector(".score").textContent = "score " + result.score.toFixed(3);
    item.querySelector(".text").textContent = result.text;
    var metadata = item.querySelector(".metadata");
    Object.keys(result.metadata || {}).forEach(function (key) {
      if (key === "qualname") return; // it is the title
      var term = document.createElement("dt");
      var value = document.createElement("dd");
      var pair = document.createElement("div");
      term.textContent = key + ":";
      value.textContent = String(result.metadata[key]);
      pair.append(term, value);
      metadata.append(pair);
    });
    return item;
  }

  function render(batch, fresh) {
    if (fresh) list.replaceChildren();
    batch.results.forEach(function (result) { list.append(renderResult(result)); });
    state.shown = batch.shown;
    state.handle = batch.done ? null : batch.handle;
    count.dataset.count = String(batch.shown);
    var added = batch.results.length;
    if (batch.done) {
      more.hidden = true;
      endState.hidden = false;
      endState.textContent = batch.shown === 0
        ? "No results. Try other words or a looser filter."
        : "End of results: all " + batch.shown + " are shown.";
      count.textContent = batch.shown === 0 ? "No results." : "Showing all " + batch.shown + " results.";
      if (!fresh) endState.focus(); // the button just went away; keep the keyboard near
    } else {
      more.hidden = false;
      endState.hidden = true;
      count.textContent = fresh
        ? "Showing " + batch.shown + " results."
        : "Showing " + batch.shown + " results (" + added + " more loaded).";
    }
  }

  function start(query, filterText) {
    if (state.busy) return;
    clearMessages();
    endCurrent(false);
    state.query = query;
    state.filter = filterText;
    state.closedOnLeave = false;
    list.replaceChildren();
    more.hidden = true;
    endState.hidden = true;
    count.dataset.count = "0";
    count.textContent = "Searching…";
    setBusy(true);
    post(urls.start, { q: query, filter: filterText }).then(function (response) {
      if (response.status === 200) {
        render(response.data, true);
      } else {
        count.textContent = "";
        showProblem(response);
      }
    }).catch(function () {
      count.textContent = "";
      showProblem({ status: 0, data: { message: "The server could not be reached. Please try again." } });
    }).finally(function () { setBusy(false); });
  }

  function loadMore() {
    if (state.busy) return;
    if (!state.handle) {
      showGone(state.closedOnLeave ? "This search was stopped when you left the page." : null);
      return;
    }
    clearMessages();
    setBusy(true);
    post(urls.next, { handle: state.handle }).then(function (response) {
      if (response.status === 200) {
        render(response.data, false);
      } else if (response.status === 410 || response.status === 404) {
        showGone(response.data && response.data.message);
      } else {
        showProblem(response);
      }
    }).catch(function () {
      showProblem({ status: 0, data: { message: "The server could not be reached. Please try again." } });
    }).finally(function () { setBusy(false); });
  }

  // While the demo corpus loads in the background, say how far it has got.
  var loading = document.getElementById("demo-load");
  function pollLoad() {
    fetch(loading.dataset.progressUrl, { credentials: "same-origin" }).then(function (response) {
      return response.json();
    }).then(function (load) {
      var text = document.getElementById("demo-load-text");
      var bar = document.getElementById("demo-load-bar");
      if (load.done) {
        text.textContent = "The corpus is loaded: " + load.loaded + " docstrings.";
        bar.max = 1; bar.value = 1;
        return;
      }
      if (load.total) {
        text.textContent = "Loading the corpus in the background: " + load.loaded + " of " + load.total +
          " docstrings so far (" + load.percent + "%).";
        bar.max = load.total; bar.value = load.loaded;
      }
      window.setTimeout(pollLoad, 3000);
    }).catch(function () { window.setTimeout(pollLoad, 10000); });
  }
  if (loading) window.setTimeout(pollLoad, 3000);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    start(q.value.trim(), filter.value.trim());
  });
  more.addEventListener("click", loadMore);
  rerun.addEventListener("click", function () {
    heading.focus();
    start(state.query, state.filter);
  });

  // Leaving the page (closing it, reloading, following a link, or going into the
  // back/forward cache) stops the search at once. A tab that is merely hidden keeps its
  // search: switching tabs should not cost the visitor their place, and a hidden tab that
  // is then discarded without `pagehide` is covered by the server's idle expiry.
  window.addEventListener("pagehide", function () {
    if (state.handle) state.closedOnLeave = true;
    endCurrent(true);
  });
  // Back from the back/forward cache: the old results are still shown, but their search
  // was stopped; say so on the next "Load more".
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && state.closedOnLeave && !more.hidden) {
      showGone("This search was stopped when you left the page.");
    }
  });
})();
