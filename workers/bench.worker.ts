import * as Comlink from 'comlink';
import { benchDecodeThreads } from '../src/lib/bench/decode';

// No configureOrt here: the benchmark's first call sets ORT's thread count, which it can do only
// before any session of this worker (it still points ORT at our own wasm files first).
Comlink.expose({ benchDecodeThreads });
