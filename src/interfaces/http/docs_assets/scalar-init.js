// Starts Scalar on /schema/scalar. A file of its own: the page's CSP allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  Scalar.createApiReference("#app", {
    url: "/schema/openapi.json",
    withDefaultFonts: false,
    telemetry: false,
    // No calls to Scalar's servers (its agent searches a registry on proxy.scalar.com).
    agent: { disabled: true },
    hideClientButton: false,
  });
});
