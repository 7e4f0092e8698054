/* After a key is created: wait for the agent's first data and say when it arrives.
 *
 *  <p data-first-data="/o/acme/api/apps" data-app="<uuid or empty>"
 *     data-app-url="/o/acme/apps/00000000-0000-0000-0000-000000000000/">Waiting…</p>
 *
 * Polls the apps endpoint (docs/query-api.md) for an app that had no data when the page
 * opened and has some now (an app already reporting cannot tell us about a new key). With
 * data-app, only that app counts, and nothing is awaited if it reports already.
 */
(function () {
  "use strict";

  var EVERY_MS = 3000;
  var GIVE_UP_MS = 30 * 60 * 1000;
  var PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  function fetchApps(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { apps: [] }; })
      .then(function (body) { return body.apps || []; });
  }

  function announce(el, app) {
    el.textContent = "";
    el.classList.add("first-data-arrived");
    el.appendChild(document.createTextNode("First data from " + app.name + " arrived. "));
    var link = document.createElement("a");
    link.href = el.dataset.appUrl.replace(PLACEHOLDER, app.id);
    link.textContent = "Open " + app.name;
    el.appendChild(link);
  }

  function watch(el) {
    var wanted = el.dataset.app || null;
    var started = Date.now();
    var before = null;
    function arrived(apps) {
      for (var i = 0; i < apps.length; i++) {
        var app = apps[i];
        if (wanted && app.id !== wanted) continue;
        if (app.last_seen != null && before[app.id] == null) return app;
      }
      return null;
    }
    function poll() {
      fetchApps(el.dataset.firstData).then(function (apps) {
        if (before === null) {
          before = {};
          apps.forEach(function (app) { before[app.id] = app.last_seen; });
          if (wanted && before[wanted] != null) return el.remove();
          el.dataset.watching = "1";
        } else {
          var app = arrived(apps);
          if (app) return announce(el, app);
        }
        if (Date.now() - started < GIVE_UP_MS) window.setTimeout(poll, EVERY_MS);
      }, function () {
        if (Date.now() - started < GIVE_UP_MS) window.setTimeout(poll, EVERY_MS);
      });
    }
    poll();
  }

  document.querySelectorAll("[data-first-data]").forEach(watch);
})();
