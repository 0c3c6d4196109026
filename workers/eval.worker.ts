import * as Comlink from 'comlink';
import { EvalService } from '../src/lib/app/eval-service';
import { ShardCache } from '../src/lib/storage/shard-cache';
import { RunStore } from '../src/lib/run/run-store';
import { compressForRuns } from '../src/lib/variants/run-compress';
import { configureOrt } from '../src/lib/infer/ort-env';

// Before any session can exist: onnxruntime-web's WASM comes from our origin, never its CDN default.
configureOrt();

const cache = new ShardCache();
Comlink.expose(new EvalService(cache, new RunStore(), compressForRuns(cache)));
