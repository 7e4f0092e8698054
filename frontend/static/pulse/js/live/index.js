// Starts the live parts of whatever page this is: growing charts on an overview or
// transaction page (marked by [data-live-charts]), the scatter on the Live page
// ([data-live-page]). Runs after apm.js has drawn the charts.
import { startLiveCharts } from "./charts.js";
import { startLivePage } from "./scatter.js";

function start() {
  const page = document.querySelector("[data-live-page]");
  if (page) startLivePage(page);
  const indicator = document.querySelector("[data-live-charts]");
  if (indicator) indicator.pulseLive = startLiveCharts(indicator);
}

// apm.js draws the charts in its own DOMContentLoaded listener, registered after ours
// (this module is imported first): wait one task so the charts exist.
const later = () => setTimeout(start, 0);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", later);
else later();
