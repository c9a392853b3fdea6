/* Nagasaki Tourism Flow dashboards: ja/en toggle, minimum-flow filter, map-ready signal.
 * No network access: everything here works on a page opened from disk. */
(function () {
    "use strict";
    var LANG_KEY = "flow-dashboard-lang";

    function setLang(lang) {
        var root = document.documentElement;
        root.setAttribute("lang", lang);
        root.setAttribute("data-lang", lang);
        try { window.localStorage.setItem(LANG_KEY, lang); } catch (e) { /* storage off */ }
    }

    function storedLang() {
        try { return window.localStorage.getItem(LANG_KEY); } catch (e) { return null; }
    }

    /* folium declares its L.Map as a global named after the map div's id. */
    function findMap() {
        var div = document.querySelector(".folium-map");
        var map = div ? window[div.id] : null;
        return map && typeof map.getCenter === "function" ? map : null;
    }

    document.addEventListener("DOMContentLoaded", function () {
        var lang = storedLang();
        if (lang === "ja" || lang === "en") { setLang(lang); }

        var toggle = document.getElementById("lang-toggle");
        if (toggle) {
            toggle.addEventListener("click", function () {
                setLang(document.documentElement.getAttribute("data-lang") === "ja" ? "en" : "ja");
            });
        }

        var filter = document.getElementById("flow-min-filter");
        if (filter) {
            var apply = function () { document.documentElement.setAttribute("data-flow-min", filter.value); };
            filter.addEventListener("change", apply);
            apply();
        }

        var map = findMap();
        window.flowDashboard = {
            map: map,
            ready: map === null ? !document.querySelector(".folium-map") : true,
            readyMs: performance.now()
        };
        if (map) { map.invalidateSize(); }
    });
})();
