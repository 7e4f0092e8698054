// Click-drag on a chart selects a time range; the page reloads with that range in the URL
// (from/to, epoch seconds), so the zoomed view is shareable and re-queried at finer resolution.

const MIN_SPAN_SECONDS = 120;

export function rangeUrl(fromSeconds, toSeconds, href = window.location.href) {
  const url = new URL(href);
  url.searchParams.delete("range");
  url.searchParams.set("from", String(Math.floor(fromSeconds)));
  url.searchParams.set("to", String(Math.ceil(toSeconds)));
  return url.toString();
}

export function zoomPlugin() {
  function setSelect(u) {
    const { left, width } = u.select;
    if (width < 2) return;
    let from = u.posToVal(left, "x");
    let to = u.posToVal(left + width, "x");
    if (to - from < MIN_SPAN_SECONDS) {
      const mid = (from + to) / 2;
      from = mid - MIN_SPAN_SECONDS / 2;
      to = mid + MIN_SPAN_SECONDS / 2;
    }
    window.location.assign(rangeUrl(from, to));
  }
  return { hooks: { setSelect } };
}
