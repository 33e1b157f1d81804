// GOV.UK Frontend's components (the password input's show/hide, the error summary's focus), as a module:
// the pages work without it.
import { initAll } from "/static/govuk/govuk-frontend.min.js";
initAll();
