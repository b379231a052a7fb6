{% comment %}drf-spectacular's Swagger UI script, with Swagger UI's standalone layout: its top bar's
"Select a definition" offers every surface's schema (SPECTACULAR_SETTINGS SWAGGER_UI_SETTINGS urls).
drf-spectacular passes only the "apis" preset, and presets cannot be written in JSON settings.{% endcomment %}
(() => {
  const bundle = window.SwaggerUIBundle;
  window.SwaggerUIBundle = Object.assign(
    (config) => bundle({ ...config, presets: [...config.presets, SwaggerUIStandalonePreset], layout: "StandaloneLayout" }),
    bundle,
  );
})();
{% include "drf_spectacular/swagger_ui.js" %}
