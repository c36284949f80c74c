/**
 * The web room's door: the HTTP face of a run (live page, /metrics, /healthz, /readyz) and the
 * Prometheus text format. It imports no other room: the runtime's web observer hands it numbers,
 * state and a command function.
 */
export { JpegEncoder, JpegStream, type JpegStreamOptions, type RgbImage } from './jpeg.js';
export { formatMetrics, histogramFromBins, PROMETHEUS_CONTENT_TYPE, type Labels, type MetricFamily, type Sample } from './prometheus.js';
export { WebFace, type WebCommand, type WebFaceOptions, type WebLog, type WebOutcome } from './server.js';
