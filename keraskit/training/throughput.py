"""A callback that reports training speed as images/s and model FLOPs utilization (MFU)."""

import time

import keras


class ThroughputMonitor(keras.callbacks.Callback):
    """Measures images per second each epoch and, on a known GPU, MFU.

    MFU (model FLOPs utilization) is the arithmetic the model needs per
    second divided by what the chip could do at its peak:
    `images/s * training FLOPs per image / peak FLOP/s`. It says how much
    of the hardware you are using, whatever the model size.

    Time is taken per epoch, from its first training step to its last
    (validation left out), so host and device synchronise only once per
    epoch. The first epoch includes compilation; read the later ones for the
    steady speed.

    Args:
        images_per_epoch: training images seen per epoch.
        flops_per_image: training FLOPs per image (`vit_flops(model, training=True)`).
        peak_flops: the device's peak FLOP/s (`peak_flops()`); None: MFU not reported.
        print_every_epoch: print a line per epoch.

    The measured values are added to the epoch logs (`images_per_second`,
    and `mfu` when a peak is known), so `History` keeps them.

    Example:

    >>> monitor = ThroughputMonitor(images_per_epoch=60000, flops_per_image=1e9, peak_flops=None)
    >>> monitor.mfu(10000)  # no peak known: nothing to compare with
    """

    def __init__(self, images_per_epoch, flops_per_image=None, peak_flops=None, print_every_epoch=True):
        super().__init__()
        self.images_per_epoch = int(images_per_epoch)
        self.flops_per_image = flops_per_image
        self.peak_flops = peak_flops
        self.print_every_epoch = print_every_epoch
        self.images_per_second = []

    def mfu(self, images_per_second):
        """The fraction of the peak used at this speed, or None."""
        if not self.peak_flops or not self.flops_per_image:
            return None
        return images_per_second * self.flops_per_image / self.peak_flops

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._seconds = time.perf_counter(), None

    def _stop_clock(self):
        # Reading a variable waits for the device to finish the steps queued so far.
        keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        self._seconds = time.perf_counter() - self._start

    def on_test_begin(self, logs=None):
        if getattr(self, "_start", None) is not None and self._seconds is None:
            self._stop_clock()  # validation is not training: leave it out

    def on_epoch_end(self, epoch, logs=None):
        if self._seconds is None:
            self._stop_clock()
        seconds = self._seconds
        speed = self.images_per_epoch / seconds
        self.images_per_second.append(speed)
        mfu = self.mfu(speed)
        if logs is not None:
            logs["images_per_second"] = speed
            if mfu is not None:
                logs["mfu"] = mfu
        if self.print_every_epoch:
            line = f"epoch {epoch + 1}: {speed:,.0f} images/s"
            if mfu is not None:
                line += f", MFU {mfu:.1%}"
            if epoch == 0 or len(self.images_per_second) == 1:
                line += " (includes compilation)"
            print(line, flush=True)
