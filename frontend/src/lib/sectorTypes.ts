/**
 * Names for the sector API's answers (backend/gslts_backend/sectors/schemas.py), as the
 * page reads them. Returns, betas and ICs are fractions; NaN comes as null.
 */
import type { Schemas } from "@/api/client";

export type SectorRecommendations = Schemas["SectorRecommendationsOut"];
export type SectorRecommendation = Schemas["SectorRecommendationOut"];
export type SectorDriver = Schemas["SectorDriverOut"];
export type SectorUs = Schemas["SectorUsMovesOut"];
export type SectorUsMove = Schemas["SectorUsMoveOut"];
export type SectorLinks = Schemas["SectorLinksOut"];
export type SectorLink = Schemas["SectorLinkOut"];
export type SectorLinkIn = Schemas["SectorLinkIn"];
export type SectorBacktest = Schemas["SectorBacktestOut"];
export type SectorStat = Schemas["SectorStatOut"];
export type SectorDaily = Schemas["SectorBacktestDayOut"];
