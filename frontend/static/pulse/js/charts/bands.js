// Shades incident periods behind a chart's lines (under the series, above the grid).
// A band without an end is still open: it runs to the right edge.

const FILL = { critical: "rgba(214, 69, 69, 0.13)", warning: "rgba(224, 159, 31, 0.16)" };

export function bandsPlugin(bands) {
  function drawClear(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    for (const band of bands) {
      const x0 = Math.max(left, u.valToPos(band.start, "x", true));
      const x1 = Math.min(left + width, band.end == null ? left + width : u.valToPos(band.end, "x", true));
      if (x1 <= x0) continue;
      ctx.fillStyle = FILL[band.severity] || FILL.warning;
      ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.restore();
  }
  return { hooks: { drawClear } };
}
