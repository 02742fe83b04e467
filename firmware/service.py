"""The BLE side: GATT server of PROTOCOL.md §1 over aioble, advertising, streaming, recovery.

Hardware: imports ``aioble``, ``bluetooth``, ``machine``, ``asyncio``. Low-power idle: while no
central is connected only advertising runs (front end and accelerometer powered down). After a
link loss it advertises again at once; the Pi reconnects and the sample index shows the gap.
"""

import asyncio

import aioble
import bluetooth
from machine import ADC, I2C, SPI, Pin

from firmware import battery, wire
from firmware import config as cfg
from firmware.ads1292r import Ads1292r
from firmware.blocks import BlockAssembler, max_accel_per_block
from firmware.control import StreamControl
from firmware.frontend import ACCEL_G_PER_LSB, EMG_UV_PER_LSB
from firmware.lis3dh import Lis3dh
from firmware.packer import Packer
from firmware.ring import BlockRing
from firmware.sampler import Sampler

# PROTOCOL.md §1 UUIDs; Battery Service 0x180F / Battery Level 0x2A19 (SIG Assigned Numbers).
SERVICE_UUID = bluetooth.UUID("d9a20001-f020-4d75-a4b5-7a8f69780e88")
DATA_UUID = bluetooth.UUID("d9a20002-f020-4d75-a4b5-7a8f69780e88")
CONTROL_UUID = bluetooth.UUID("d9a20003-f020-4d75-a4b5-7a8f69780e88")
DEVICE_INFO_UUID = bluetooth.UUID("d9a20004-f020-4d75-a4b5-7a8f69780e88")
BATTERY_SERVICE_UUID = bluetooth.UUID(0x180F)
BATTERY_LEVEL_UUID = bluetooth.UUID(0x2A19)
SEND_POLL_S = 0.005  # the sender looks for ready notifications this often (a block is 10 ms)
STACK_FULL_RETRY_S = 0.002  # gatts_notify raised: NimBLE's buffers are full, try again soon


class Wearable:
    """Builds the GATT table and runs one connection after another."""

    def __init__(self) -> None:
        self.control = StreamControl(
            cfg.EMG_RATE_HZ, cfg.ACCEL_RATE_HZ, cfg.BLOCK_SAMPLES, cfg.MAX_BLOCKS
        )
        crampwatch = aioble.Service(SERVICE_UUID)
        self.data_char = aioble.Characteristic(crampwatch, DATA_UUID, notify=True)
        self.control_char = aioble.Characteristic(
            crampwatch, CONTROL_UUID, write=True, capture=True
        )
        self.info_char = aioble.Characteristic(crampwatch, DEVICE_INFO_UUID, read=True)
        battery_service = aioble.Service(BATTERY_SERVICE_UUID)
        self.battery_char = aioble.Characteristic(
            battery_service, BATTERY_LEVEL_UUID, read=True, notify=True
        )
        aioble.register_services(crampwatch, battery_service)
        aioble.config(mtu=cfg.PREFERRED_MTU)
        self.battery_adc = ADC(Pin(cfg.PIN_BATTERY), atten=ADC.ATTN_11DB)
        spi = SPI(
            1,
            baudrate=cfg.SPI_BAUD,
            polarity=0,
            phase=1,  # ADS1292R: SPI mode 1 (CPOL 0, CPHA 1)
            sck=Pin(cfg.PIN_SPI_SCK),
            mosi=Pin(cfg.PIN_SPI_MOSI),
            miso=Pin(cfg.PIN_SPI_MISO),
        )
        self.afe = Ads1292r(
            spi,
            Pin(cfg.PIN_AFE_CS, Pin.OUT),
            Pin(cfg.PIN_AFE_START, Pin.OUT),
            Pin(cfg.PIN_AFE_PWDN, Pin.OUT),
        )
        i2c = I2C(0, sda=Pin(cfg.PIN_I2C_SDA), scl=Pin(cfg.PIN_I2C_SCL), freq=400_000)
        self.accel = Lis3dh(i2c, cfg.LIS3DH_ADDRESS)
        self.drdy = Pin(cfg.PIN_AFE_DRDY, Pin.IN)
        self._build_stream()

    def _build_stream(self, index: int = 0) -> None:
        """Ring, assembler, packer and sampler for the current rates; ``index`` continues the
        EMG index (§2.1: it survives a rate change)."""
        control = self.control
        block = control.block_samples
        self.ring = BlockRing(
            cfg.RING_BLOCKS, len(cfg.SITES), block, max_accel_per_block(block, control.ratio)
        )
        assembler = BlockAssembler(self.ring, block, control.ratio)
        assembler.index = index
        self.packer = Packer(self.ring, control.ratio, control.batch_samples)
        self.sampler = Sampler(self.afe, self.accel, self.drdy, assembler, control.emg_rate_hz)
        self.info_char.write(
            control.device_info(
                EMG_UV_PER_LSB, ACCEL_G_PER_LSB, cfg.LEG, cfg.FIRMWARE_VERSION, cfg.SITES
            )
        )
        control.rates_changed = False

    def update_battery(self, notify_connection: object = None) -> int:
        level = battery.percent(battery.cell_mv(self.battery_adc.read_uv(), cfg.BATTERY_DIVIDER))
        self.battery_char.write(bytes((level,)))
        if notify_connection is not None:
            self.battery_char.notify(notify_connection, bytes((level,)))
        return level

    async def run(self) -> None:
        """Advertise, serve a connection, power down, advertise again: forever."""
        self.update_battery()
        while True:
            connection = await aioble.advertise(
                cfg.ADVERTISING_INTERVAL_US, name=cfg.NAME, services=[SERVICE_UUID]
            )
            self.control.streaming = False
            self.sampler.start()
            tasks = [
                asyncio.create_task(self._send(connection)),
                asyncio.create_task(self._listen()),
                asyncio.create_task(self._battery(connection)),
            ]
            try:
                await connection.disconnected(timeout_ms=None)
            finally:
                for task in tasks:
                    task.cancel()
                self.sampler.stop()
                self.packer.discard()

    async def _send(self, connection: object) -> None:
        while True:
            packer = self.packer  # SET_RATES builds a new one (_listen)
            if not self.control.streaming:
                packer.discard()  # §4: samples taken while stopped are not sent
                await asyncio.sleep(SEND_POLL_S)
                continue
            payload = (getattr(connection, "mtu", None) or wire.DEFAULT_ATT_MTU) - 3
            if not packer.ready(payload):
                await asyncio.sleep(SEND_POLL_S)
                continue
            data = packer.pack(payload)
            try:
                self.data_char.notify(connection, data)
            except OSError:
                await asyncio.sleep(STACK_FULL_RETRY_S)  # not committed: sent again
                continue
            packer.commit()

    async def _listen(self) -> None:
        while True:
            _connection, data = await self.control_char.written()
            if self.control.apply(data) and self.control.rates_changed:
                self.sampler.stop()
                self._build_stream(self.sampler.assembler.index)
                self.sampler.start()
            self.packer.batch_samples = self.control.batch_samples

    async def _battery(self, connection: object) -> None:
        while True:
            await asyncio.sleep(cfg.BATTERY_EVERY_S)
            self.update_battery(connection)


def main() -> None:
    asyncio.run(Wearable().run())
