import * as Comlink from 'comlink';
import { InferenceService } from '../src/lib/app/inference-service';

Comlink.expose(new InferenceService());
