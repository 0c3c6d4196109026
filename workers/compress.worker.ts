import * as Comlink from 'comlink';
import { CompressService } from '../src/lib/variants/compress-service';

Comlink.expose(new CompressService());
