import * as Comlink from 'comlink';
import { InferenceService } from '../src/lib/app/inference-service';
import { ShardCache } from '../src/lib/storage/shard-cache';
import { RunStore } from '../src/lib/storage/run-store';
import { compressForRuns } from '../src/lib/variants/run-compress';

const cache = new ShardCache();
Comlink.expose(new InferenceService(cache, new RunStore(), compressForRuns(cache)));
