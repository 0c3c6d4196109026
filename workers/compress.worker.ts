import * as Comlink from 'comlink';
import { CompressService } from '../src/lib/variants/compress-service';
import { configureOrt } from '../src/lib/infer/ort-env';

// Before any session can exist: onnxruntime-web's WASM comes from our origin, never its CDN default.
configureOrt();

Comlink.expose(new CompressService());
