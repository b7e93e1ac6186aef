// Availability month grid: drag, Shift-click and keyboard ranges, saved at once with htmx.
// Without this file every day is a plain submit button that marks or unmarks one day,
// and the "Mark a time range" form does ranges and part-days, so nothing depends on it.
(function () {
  "use strict";

  var form = document.getElementById("av-form");
  if (!form || !window.htmx) return;

  var anchor = null;      // where the next Shift-click or Shift+arrow range starts
  var rangeStart = null;  // start of the range being dragged or extended, else null
  var current = null;     // the focused (or last touched) day, "YYYY-MM-DD"
  var dragging = false;
  var pointerUpAt = 0;    // a click right after our own pointer handling is a duplicate
  var keyAt = 0;          // likewise after Space/Enter, which browsers turn into clicks

  function grid() { return document.getElementById("av-grid"); }
  function buttons() { return Array.prototype.slice.call(grid().querySelectorAll("button.av-day")); }
  function button(day) { return grid().querySelector('button.av-day[data-day="' + day + '"]'); }
  function dayOf(element) {
    var b = element && element.closest ? element.closest("button.av-day") : null;
    return b && grid().contains(b) ? b.getAttribute("data-day") : null;
  }
  function shift(day, n) {
    var d = new Date(day + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function ordered(a, b) { return a <= b ? [a, b] : [b, a]; }

  function highlight(a, b) {
    var span = a ? ordered(a, b) : null;
    buttons().forEach(function (btn) {
      var day = btn.getAttribute("data-day");
      var inside = !!span && day >= span[0] && day <= span[1];
      btn.classList.toggle("av-selected", inside);
      btn.parentNode.setAttribute("aria-selected", inside ? "true" : "false");
    });
  }

  function focusDay(day) {
    var target = button(day);
    if (!target) return false;
    buttons().forEach(function (btn) { btn.tabIndex = btn === target ? 0 : -1; });
    target.focus();
    current = day;
    return true;
  }

  function say(text, isError) {
    var status = document.getElementById("av-status");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function save(a, b) {
    var span = ordered(a, b);
    var refocus = grid().contains(document.activeElement);
    say("Saving…");
    // Extra values win over the form's own, so a remembered submit button doesn't leak in.
    var request = htmx.ajax("POST", form.getAttribute("hx-post"), {
      source: form,
      target: "#av-grid",
      swap: "outerHTML",
      values: { start_day: span[0], end_day: span[1], day: "" }
    });
    rangeStart = null;
    anchor = a;
    var restore = function () {
      setUp();
      if (refocus && current) focusDay(current);
    };
    if (request && request.then) request.then(restore, restore);
  }

  function setUp() {
    var all = buttons();
    if (!all.length) return;
    var start = (current && button(current)) || grid().querySelector("button.av-today") ||
      grid().querySelector("td:not(.out) button.av-day") || all[0];
    all.forEach(function (btn) { btn.tabIndex = btn === start ? 0 : -1; });
  }

  document.addEventListener("pointerdown", function (event) {
    var day = dayOf(event.target);
    if (!day || event.pointerType === "touch" || event.button !== 0) return;
    event.preventDefault();  // no text selection while dragging
    dragging = true;
    rangeStart = event.shiftKey && anchor ? anchor : day;
    if (!event.shiftKey || !anchor) anchor = day;
    focusDay(day);
    highlight(rangeStart, day);
  });

  document.addEventListener("pointermove", function (event) {
    if (!dragging) return;
    var day = dayOf(document.elementFromPoint(event.clientX, event.clientY));
    if (day && day !== current) {
      current = day;
      highlight(rangeStart, day);
    }
  });

  document.addEventListener("pointerup", function () {
    if (!dragging) return;
    dragging = false;
    pointerUpAt = Date.now();
    focusDay(current);
    save(rangeStart, current);
  });

  document.addEventListener("click", function (event) {
    var day = dayOf(event.target);
    if (!day) return;
    event.preventDefault();  // we save with htmx instead of submitting the form
    var now = Date.now();
    if (now - pointerUpAt < 600 || now - keyAt < 600) return;
    // Touch, or assistive technology clicking for the user: one day, or a Shift range.
    var from = event.shiftKey && anchor ? anchor : day;
    current = day;
    save(from, day);
  });

  var MOVES = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 };

  document.addEventListener("keydown", function (event) {
    var day = dayOf(event.target);
    if (!day) return;
    current = day;
    if (event.key in MOVES) {
      event.preventDefault();
      var next = shift(day, MOVES[event.key]);
      if (!button(next)) return;
      if (event.shiftKey) {
        if (rangeStart === null) rangeStart = day;
        highlight(rangeStart, next);
      } else {
        rangeStart = null;
        anchor = next;
        highlight(null);
      }
      focusDay(next);
    } else if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      keyAt = Date.now();
      save(rangeStart === null ? day : rangeStart, day);
      highlight(null);
    } else if (event.key === "Escape" && rangeStart !== null) {
      rangeStart = null;
      highlight(null);
    }
  });

  document.addEventListener("keyup", function (event) {
    // Space activates a button on key *up*; swallow that click too.
    if (dayOf(event.target) && (event.key === " " || event.key === "Enter")) keyAt = Date.now();
  });

  document.body.addEventListener("htmx:responseError", function () {
    say("Not saved: the server answered with an error. Try again, or use the form below.", true);
  });
  document.body.addEventListener("htmx:sendError", function () {
    say("Not saved: no connection. Try again, or use the form below.", true);
  });

  setUp();
})();
