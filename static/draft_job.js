// The draft job page, updated in place: every few seconds fetch the page itself and copy the
// new stage, bar and percentage into the status region, so keyboard focus stays where it is and
// the live region announces the change. Without this file a <noscript> meta refresh reloads.
(function () {
  "use strict";
  var root = document.querySelector("[data-draft-job-poll]");
  if (!root) { return; }
  var everyMs = (Number(root.getAttribute("data-refresh-seconds")) || 2) * 1000;
  var hiddenLimitMs = 5 * 60 * 1000;  // a tab left in the background stops asking
  var hiddenSince = null;
  var timer = null;

  function stop(why) {
    if (timer) { clearInterval(timer); timer = null; }
    var note = document.getElementById("draft-poll-stopped");
    if (!note) { return; }
    note.textContent = why + " ";
    var reload = document.createElement("a");
    reload.href = window.location.href;
    reload.textContent = "Reload";
    note.appendChild(reload);
    note.hidden = false;
  }

  function setText(node, text) {
    if (node && node.textContent !== text) { node.textContent = text; }  // unchanged: no announcement
  }

  function update(fresh) {
    var region = document.getElementById("draft-progress");
    var next = fresh.getElementById("draft-progress");
    if (!region || !next) {
      // failed (or published): show the new content once and take focus to its heading
      clearInterval(timer); timer = null;
      root.innerHTML = fresh.getElementById("draft-job").innerHTML;
      var heading = document.getElementById("job-title");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      return;
    }
    setText(region.querySelector("label"), next.querySelector("label").textContent);
    var bar = region.querySelector("progress"), nextBar = next.querySelector("progress");
    if (bar.value !== nextBar.value) { bar.value = nextBar.value; }
    bar.setAttribute("value", nextBar.getAttribute("value"));
    setText(bar, nextBar.textContent);
    setText(region.querySelector("strong"), next.querySelector("strong").textContent);
    var times = root.querySelector("dl"), nextTimes = fresh.querySelector("#draft-job dl");
    if (times && nextTimes && times.innerHTML !== nextTimes.innerHTML) { times.innerHTML = nextTimes.innerHTML; }
  }

  function poll() {
    if (document.hidden) {
      if (hiddenSince === null) { hiddenSince = Date.now(); }
      if (Date.now() - hiddenSince > hiddenLimitMs) { stop("Updates stopped while this tab was in the background."); }
      return;
    }
    hiddenSince = null;
    // "manual": a done draft answers a redirect; the page itself then goes on to the roster
    fetch(window.location.href, {
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Draft-Job-Poll": "1" },
    }).then(function (response) {
      if (response.type === "opaqueredirect") { clearInterval(timer); timer = null; window.location.reload(); return null; }
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.text();
    }).then(function (html) {
      if (html === null || timer === null) { return; }
      update(new DOMParser().parseFromString(html, "text/html"));
    }).catch(function () {
      stop("Could not check the draft's progress.");
    });
  }

  timer = setInterval(poll, everyMs);
})();
