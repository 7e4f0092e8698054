// Deployment markers: a dashed line at each deployment, and a flag above the plot that names
// it (title text set through the DOM, so a version string cannot become markup) and links to
// the deployments page.

const LINE = "rgba(71, 85, 105, 0.75)";

export function markersPlugin(markers) {
  const flags = [];

  function draw(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.strokeStyle = LINE;
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    for (const m of markers) {
      const x = Math.round(u.valToPos(m.t, "x", true));
      if (x < left || x > left + width) continue;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
    placeFlags(u);
  }

  function placeFlags(u) {
    const { left, width } = u.bbox;
    markers.forEach((m, i) => {
      const x = u.valToPos(m.t, "x", true);
      flags[i].style.display = x < left || x > left + width ? "none" : "";
      flags[i].style.left = `${u.valToPos(m.t, "x")}px`;
    });
  }

  function init(u) {
    for (const m of markers) {
      const flag = document.createElement(m.url ? "a" : "span");
      flag.className = "deploy-flag";
      if (m.url) flag.href = m.url;
      const who = m.user ? ` by ${m.user}` : "";
      const commit = m.commit ? ` (${m.commit.slice(0, 12)})` : "";
      flag.title = `Deployed ${m.version}${commit}${who}` + (m.description ? `\n${m.description}` : "");
      flag.setAttribute("aria-label", flag.title);
      u.over.appendChild(flag);
      flags.push(flag);
    }
  }

  return { hooks: { init, draw } };
}
