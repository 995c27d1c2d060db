// Webcam access and frame capture (scaled JPEG for the live stream).
import { t } from './i18n.js';

const MAX_SIDE_PX = 640; // the longer side of a sent frame; face landmarks need no more

export class CameraError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'CameraError';
    this.status = status; // short text for #live-status
  }
}

function explain(error) {
  switch (error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new CameraError(t('Camera permission denied'), t('Camera access was refused. Allow the camera for this site and press Start again.'));
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new CameraError(t('No camera found'), t('No usable camera was found. Connect one and press Start again.'));
    case 'NotReadableError':
      return new CameraError(t('Camera busy'), t('The camera is in use by another application.'));
    default:
      return new CameraError(t('Camera unavailable'), t('The camera could not be started: %(error)s', { error: error.message }));
  }
}

export async function openCamera(video) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    // Browsers give the camera only to secure pages: https://, or http://localhost on the server itself.
    throw new CameraError(t('Camera needs HTTPS'), t('This page was opened over plain HTTP, and browsers allow the camera only on secure (HTTPS) pages. Open it by its https:// address, e.g. https://%(host)s/ (README "Deploying on a ward network").', { host: location.hostname }));
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: MAX_SIDE_PX } },
    });
  } catch (error) {
    throw explain(error);
  }
  video.srcObject = stream;
  try {
    await video.play();
  } catch (error) {
    closeCamera(video, stream);
    throw explain(error);
  }
  return stream;
}

export function closeCamera(video, stream) {
  stream?.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
}

export class FrameGrabber {
  constructor(jpegQuality) {
    this.quality = jpegQuality;
    this.canvas = document.createElement('canvas'); // never attached: an off-screen buffer
    this.context = this.canvas.getContext('2d');
  }

  // true once the video has a frame to copy
  static ready(video) {
    return video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0;
  }

  // Resolves to { jpeg: ArrayBuffer, width, height } in the sent (scaled) pixel size.
  async capture(video) {
    const scale = Math.min(1, MAX_SIDE_PX / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.context.drawImage(video, 0, 0, width, height);
    // toBlob copies the bitmap synchronously, so the next capture may reuse the canvas at once.
    const blob = await new Promise((resolve) => this.canvas.toBlob(resolve, 'image/jpeg', this.quality));
    if (!blob) throw new Error(t('The camera frame could not be encoded.'));
    return { jpeg: await blob.arrayBuffer(), width, height };
  }
}
