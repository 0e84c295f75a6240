import type { NextConfig } from "next";

// A static export (frontend/out) that the backend serves at "/": no Node server in
// production. Routes are folders with an index.html (trailingSlash), so /stock/?code=005930
// is stock/index.html reading its query on the client.
const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  reactStrictMode: true,
  images: { unoptimized: true },
  poweredByHeader: false,
  // `next dev` on :3000 talks to the backend on :8000 (the export is same-origin)
  ...(process.env.NODE_ENV === "development"
    ? {
        async rewrites() {
          const api = process.env.GSLTS_BACKEND_URL ?? "http://127.0.0.1:8000";
          return [{ source: "/api/:path*", destination: `${api}/api/:path*` }];
        },
      }
    : {}),
};

export default config;
