/** The UI's pages, one file each under pages/. */
import { redirect, type Route } from "./server.ts";
import { siteRoutes } from "./pages/sites.ts";
import { newJobRoutes } from "./pages/new_job.ts";
import { runRoutes } from "./pages/run.ts";
import { jobRoutes } from "./pages/jobs.ts";
import { resultRoutes } from "./pages/results.ts";

export function routes(): Route[] {
  return [
    { method: "GET", path: /^\/$/, handler: () => redirect("/run") },
    ...siteRoutes,
    ...newJobRoutes,
    ...runRoutes,
    ...jobRoutes,
    ...resultRoutes,
  ];
}
