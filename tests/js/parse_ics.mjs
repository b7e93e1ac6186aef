// Test-only: parse .ics files with ical.js (the parser inside Thunderbird) and print, as JSON,
// every VEVENT's UID, STATUS and UTC start/end, computed from the file's own VTIMEZONEs.
// Usage: node parse_ics.mjs FILE...  ->  {"FILE": {"events": [...]}, ...}
// A TZID that the file does not define is an error (ical.js would silently use floating time).
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function utc(time, what) {
  const tzid = time.zone ? time.zone.tzid : null;
  if (!time.zone || tzid === "floating") {
    throw new Error(`${what}: no time zone definition for ${time.toString()}`);
  }
  return new Date(time.toUnixTime() * 1000).toISOString().replace(".000Z", "Z");
}

const result = {};
for (const file of process.argv.slice(2)) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
  if (root.name !== "vcalendar") throw new Error(`${file}: not a VCALENDAR`);
  const events = root.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const uid = event.uid;
    return {
      uid,
      status: vevent.getFirstPropertyValue("status"),
      tzid: vevent.getFirstProperty("dtstart").getParameter("tzid") || null,
      start: utc(event.startDate, `${uid} DTSTART`),
      end: utc(event.endDate, `${uid} DTEND`),
    };
  });
  result[file] = {
    components: root.getAllSubcomponents().map((c) => c.name),
    events,
  };
}
process.stdout.write(JSON.stringify(result));
