"""The wearable's settings: the one file a builder edits (name, leg, rates, channels, pins).

Values feed the device info (PROTOCOL.md §3). Pins are those of docs/hardware.md "Wiring" for a
Seeed Studio XIAO ESP32S3 (GPIO numbers, not the D labels).
"""

NAME = "crampwatch-L"  # PROTOCOL.md §1: advertised name, must start with "crampwatch"
LEG = 1  # §3: 0 unknown, 1 left, 2 right
# §3 site of each EMG channel: 1 gastrocnemius medial, 2 lateral, 3 soleus, 4 tibialis anterior.
# One entry per channel (1 or 2 with the ADS1292R).
SITES = (1,)
FIRMWARE_VERSION = (0, 1, 0)

EMG_RATE_HZ = 1000  # ADS1292R CONFIG1 data rates: 125, 250, 500, 1000, 2000, 4000, 8000 SPS
ACCEL_RATE_HZ = 50  # must divide EMG_RATE_HZ (§2.3)
BLOCK_SAMPLES = 10  # §3 block_emg_samples: 10 ms at 1 kHz
MAX_BLOCKS = 5  # §3 max_blocks_per_notification: 50 samples (§5 table)
RING_BLOCKS = 50  # 0.5 s of blocks buffered for a slow link; beyond that blocks are dropped
PREFERRED_MTU = 247  # asked in the MTU exchange (§5: 2 channels × 50 samples need 233)

ADVERTISING_INTERVAL_US = 100_000  # connectable advertising while idle: 100 ms
ADVERTISING_TIMEOUT_MS = 0  # 0 = advertise until a central connects
BATTERY_EVERY_S = 60  # read the divider and update the Battery Level this often

# Pins (GPIO numbers of the XIAO ESP32S3; docs/hardware.md "Wiring").
PIN_SPI_SCK = 7  # D8
PIN_SPI_MISO = 8  # D9 (ADS1292R DOUT)
PIN_SPI_MOSI = 9  # D10 (ADS1292R DIN)
PIN_AFE_CS = 4  # D3
PIN_AFE_DRDY = 3  # D2, also counted by the PCNT unit
PIN_AFE_START = 43  # D6
PIN_AFE_PWDN = 44  # D7 (PWDN/RESET, low = power down)
PIN_I2C_SDA = 5  # D4
PIN_I2C_SCL = 6  # D5
PIN_BATTERY = 1  # D0 = GPIO1 (ADC1 channel 0): middle of the 2 × 100 kΩ divider
BATTERY_DIVIDER = 2.0  # cell voltage / pin voltage
LIS3DH_ADDRESS = 0x18  # SDO/SA0 low (Adafruit 2809 default)
SPI_BAUD = 1_000_000  # ADS1292R SCLK up to 20 MHz; 1 MHz reads 9 bytes in 72 µs
