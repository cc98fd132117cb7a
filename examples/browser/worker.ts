// The engine's worker: the package's worker entry, bundled by the app's bundler.
import "dip-engine/worker";
